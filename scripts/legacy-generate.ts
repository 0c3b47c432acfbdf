/**
 * `npm run legacy:generate -- --url postgresql://... --pacientes 10000 [--seed 42] [--install]`:
 * fills an empty legacy PostgreSQL with deterministic, realistic data (db/legacy/generate.ts), the
 * source for rehearsing the migration to Neon. `--install` creates the legacy schema first.
 * Progress per table goes to stderr; the counts and the injected anomalies to stdout.
 */
import pg from "pg";
import { DEFAULT_LEGACY_SEED, generateLegacy, installLegacySchema } from "../db/legacy/generate";
import { arg, run } from "./lib/cli";

const USAGE =
  "usage: npm run legacy:generate -- --url <postgres url> [--pacientes 10000] [--seed 42] [--install]";
const FLAGS = new Set(["--url", "--pacientes", "--seed", "--install"]);

run("legacy:generate", async () => {
  const unknown = process.argv.slice(2).filter((a) => a.startsWith("--") && !FLAGS.has(a));
  if (unknown.length) {
    console.error(`unknown flag ${unknown.join(", ")}\n${USAGE}`);
    process.exit(2);
  }
  const url = arg("url");
  if (!url || url.startsWith("--")) {
    console.error(`--url is required\n${USAGE}`);
    process.exit(2);
  }
  const pacientesArg = arg("pacientes");
  const pacientes = process.argv.includes("--pacientes") ? Number(pacientesArg) : 10_000;
  if (!Number.isInteger(pacientes) || pacientes < 1) {
    console.error("--pacientes must be a positive integer");
    process.exit(2);
  }
  const seedArg = arg("seed");
  const seed = seedArg === undefined ? DEFAULT_LEGACY_SEED : Number(seedArg);
  const seedGiven = process.argv.includes("--seed");
  if ((seedGiven && !/^-?\d+$/.test(seedArg ?? "")) || !Number.isSafeInteger(seed)) {
    console.error("--seed must be an integer");
    process.exit(2);
  }
  const install = process.argv.includes("--install");

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ present: boolean }>(
      "SELECT to_regclass('pacientes') IS NOT NULL AS present",
    );
    if (rows[0]!.present) {
      const { rows: n } = await client.query<{ n: string }>("SELECT count(*) AS n FROM pacientes");
      // Refused before anything else: generating into a live legacy database would mix fake rows in.
      if (Number(n[0]!.n) > 0)
        throw new Error(`the target already has ${n[0]!.n} rows in pacientes; it must be empty`);
      if (install) throw new Error("the legacy schema is already installed at the target; drop --install");
    } else if (!install) {
      throw new Error("no legacy schema at the target (table pacientes is missing); pass --install");
    } else {
      await installLegacySchema(client);
      console.error("legacy schema installed");
    }

    const started = performance.now();
    let tableStarted = started;
    const report = await generateLegacy(client, {
      pacientes,
      seed,
      onProgress: (table, n) => {
        const now = performance.now();
        if (n === 0) {
          tableStarted = now;
          return;
        }
        const s = (now - tableStarted) / 1000;
        console.error(
          `  ${table.padEnd(16)} ${String(n).padStart(8)} rows in ${s.toFixed(2)} s (${Math.round(n / Math.max(s, 1e-3))} rows/s)`,
        );
      },
    });
    const s = (performance.now() - started) / 1000;
    const total = Object.values(report.rows).reduce((a, b) => a + b, 0);
    const { cpfDuplicado, dataInvalida, consultaSobreposta } = report.anomalies;
    console.log(
      `generated ${total} rows (seed ${report.seed}) in ${s.toFixed(1)} s: ${JSON.stringify(report.rows)}`,
    );
    console.log(
      `anomalies: ${cpfDuplicado.length} cpfDuplicado, ${dataInvalida.length} dataInvalida, ${consultaSobreposta.length} consultaSobreposta`,
    );
  } finally {
    await client.end();
  }
});
