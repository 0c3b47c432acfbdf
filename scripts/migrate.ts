/**
 * `npm run db:migrate [-- <owner url>]`: applies db/migrations, then partition upkeep. The URL
 * defaults to DATABASE_OWNER_URL, then to the local cloud's (see scripts/lib/owner.ts).
 */
import { migrate } from "../db/migrate";
import { run } from "./lib/cli";
import { configureNeonFromEnv, resolveOwnerUrl } from "./lib/owner";
import { loadDevVars } from "./lib/vars";

run("db:migrate", async () => {
  const url = resolveOwnerUrl(process.argv[2]);
  if (!url) {
    console.error("usage: npm run db:migrate -- <owner url>   (or set DATABASE_OWNER_URL)");
    process.exit(2);
  }
  const neon = configureNeonFromEnv(url);
  // The API's identity key, when this environment has it (production: DB_IDENTITY_KEY and
  // DB_IDENTITY_KEY_ID set for this run, the same values as the worker's secrets). The
  // development value of .dev.vars is used only for a database of the local cloud.
  const local = ["localhost", "127.0.0.1"].includes(new URL(url).hostname);
  const vars = { ...(local ? loadDevVars() : {}), ...process.env } as Record<string, string | undefined>;
  const identityKey = vars.DB_IDENTITY_KEY
    ? { kid: vars.DB_IDENTITY_KEY_ID || "k1", secret: vars.DB_IDENTITY_KEY }
    : undefined;
  if (!identityKey) console.log("DB_IDENTITY_KEY not set: the installed identity keys are left as they are");
  const result = await migrate(url, { neon, identityKey, log: (line) => console.log(line) });
  console.log(`migrations: ${result.applied.length} applied, ${result.skipped.length} already applied`);
});
