/**
 * `npm run db:migrate [-- <owner url>]`: applies db/migrations, then partition upkeep. The URL
 * defaults to DATABASE_OWNER_URL, then to the local cloud's (see scripts/lib/owner.ts).
 */
import { migrate } from "../db/migrate";
import { run } from "./lib/cli";
import { configureNeonFromEnv, resolveOwnerUrl } from "./lib/owner";

run("db:migrate", async () => {
  const url = resolveOwnerUrl(process.argv[2]);
  if (!url) {
    console.error("usage: npm run db:migrate -- <owner url>   (or set DATABASE_OWNER_URL)");
    process.exit(2);
  }
  const neon = configureNeonFromEnv(url);
  const result = await migrate(url, { neon, log: (line) => console.log(line) });
  console.log(`migrations: ${result.applied.length} applied, ${result.skipped.length} already applied`);
});
