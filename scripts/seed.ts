/**
 * `npm run db:seed -- --pacientes 10000 [--seed N] [--url URL]`: deterministic fake clinic data
 * (db/seed.ts). The URL defaults to DATABASE_OWNER_URL, then to the local cloud's.
 */
import { openClient } from "../db/owner-client";
import { seed } from "../db/seed";
import { arg, run } from "./lib/cli";
import { configureNeonFromEnv, resolveOwnerUrl } from "./lib/owner";

run("db:seed", async () => {
  const url = resolveOwnerUrl(arg("url"));
  if (!url) {
    console.error("usage: npm run db:seed -- --pacientes 10000 [--seed 1] [--url <owner url>]");
    process.exit(2);
  }
  const pacientes = Number(arg("pacientes") ?? 1000);
  if (!Number.isInteger(pacientes) || pacientes < 1) {
    console.error("--pacientes must be a positive integer");
    process.exit(2);
  }
  const seedValue = arg("seed");
  const { client, close } = await openClient(url, configureNeonFromEnv(url));
  try {
    const report = await seed(client, {
      pacientes,
      seed: seedValue ? Number(seedValue) : undefined,
      log: (line) => console.log(line),
    });
    console.log(`seeded ${JSON.stringify(report.counts)} in ${(report.ms / 1000).toFixed(1)} s`);
  } finally {
    await close();
  }
});
