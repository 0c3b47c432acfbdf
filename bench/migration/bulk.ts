/**
 * `npm run bench:migration-bulk`: the bulk load against `pg_dump | psql`, in one run.
 *
 * On the machine's PostgreSQL (LOCAL_POSTGRES_URL): a legacy database generated with `--pacientes`
 * (default 10 000; about 80 000 rows). Then, alternately (`--rounds`, default 2):
 *   - `pg_dump <legacy> | psql <empty database>`: the plain copy, schema and data, no mapping;
 *   - `npm run migrate:bulk`'s library (db/migration/bulk.ts) into a freshly migrated target behind
 *     the local Neon endpoint (PostgreSQL backend), over the driver's WebSocket Pool as the owner:
 *     COPY into staging, mapping, quarantine, conflict checks, the target's triggers (keys, search
 *     index, audit), watermarks.
 * The ratio is pg_dump|psql's time over ours (goal ≥ 1.0: at least as fast). Writes
 * bench/results/migration-bulk.{json,md}; the throw-away databases are dropped.
 */
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { parseArgs, promisify } from "node:util";
import pg from "pg";
import { generateLegacy, installLegacySchema } from "../../db/legacy/generate";
import { migrate } from "../../db/migrate";
import { bulkLoad } from "../../db/migration/bulk";
import { openClient } from "../../db/owner-client";
import { LOCAL } from "../../dev/config";
import { startNeonEndpoint } from "../../dev/neon";
import { configureNeonForLocal } from "../../dev/neon/client";
import { ADMIN_URL, admin, databaseUrl } from "../neon-endpoint/shared";

const exec = promisify(execFile);
const { values: args } = parseArgs({
  options: { pacientes: { type: "string", default: "10000" }, rounds: { type: "string", default: "2" } },
});
const PACIENTES = Number(args.pacientes);
const ROUNDS = Number(args.rounds);
const LEGACY = "fisioflow_bulkbench_legacy";
const log = (line: string) => console.log(`[migration-bulk] ${line}`);

async function pgDumpPsql(round: number): Promise<number> {
  const db = `fisioflow_bulkbench_dump${round}`;
  await admin(`drop database if exists ${db} with (force)`);
  await admin(`create database ${db}`);
  const t0 = performance.now();
  await exec(
    "bash",
    [
      "-c",
      `set -o pipefail; pg_dump --no-owner "${databaseUrl(LEGACY)}" | psql -q -v ON_ERROR_STOP=1 "${databaseUrl(db)}" > /dev/null`,
    ],
    {
      maxBuffer: 1 << 26,
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  await admin(`drop database if exists ${db} with (force)`);
  return seconds;
}

async function ours(round: number): Promise<{ seconds: number; rows: number }> {
  const db = `fisioflow_bulkbench_target${round}`;
  await admin(`drop database if exists ${db} with (force)`);
  const endpoint = await startNeonEndpoint({ port: 0, postgresUrl: ADMIN_URL, database: db, log: () => {} });
  try {
    configureNeonForLocal(endpoint);
    const ownerUrl = endpoint.connectionString("fisioflow_owner");
    await migrate(ownerUrl, { neon: true, identityKey: LOCAL.identityKey });
    const t0 = performance.now();
    const reports = await bulkLoad({
      async openSource() {
        const c = new pg.Client({ connectionString: databaseUrl(LEGACY) });
        await c.connect();
        return { client: c, close: () => c.end() };
      },
      openTarget: () => openClient(ownerUrl, true),
    });
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, rows: reports.reduce((a, r) => a + r.staged, 0) };
  } finally {
    await endpoint.close();
    await admin(`drop database if exists ${db} with (force)`);
  }
}

async function main() {
  await admin(`drop database if exists ${LEGACY} with (force)`);
  await admin(`create database ${LEGACY}`);
  const source = new pg.Client({ connectionString: databaseUrl(LEGACY) });
  await source.connect();
  await installLegacySchema(source);
  const report = await generateLegacy(source, { pacientes: PACIENTES });
  await source.end();
  const total = Object.values(report.rows).reduce((a, b) => a + b, 0);
  log(`legacy: ${total} rows`);
  await new Promise((r) => setTimeout(r, 1100)); // past the horizon's margin
  const dump: number[] = [];
  const mine: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      dump.push(await pgDumpPsql(round));
      log(`round ${round + 1}: pg_dump | psql ${dump.at(-1)!.toFixed(2)} s`);
      const r = await ours(round);
      if (r.rows !== total) throw new Error(`bulk load staged ${r.rows} rows, expected ${total}`);
      mine.push(r.seconds);
      log(`round ${round + 1}: migrate:bulk ${r.seconds.toFixed(2)} s`);
    }
  } finally {
    await admin(`drop database if exists ${LEGACY} with (force)`);
  }
  const best = (xs: number[]) => Math.min(...xs);
  const ratio = best(dump) / best(mine);
  log(
    `best: pg_dump | psql ${best(dump).toFixed(2)} s, migrate:bulk ${best(mine).toFixed(2)} s → ${ratio.toFixed(2)}×`,
  );
  const results = {
    pacientes: PACIENTES,
    rows: total,
    pgDumpPsqlSeconds: dump,
    bulkSeconds: mine,
    ratio,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, node ${process.version}, load ${os.loadavg()[0]!.toFixed(2)}`,
    when: new Date().toISOString(),
  };
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/migration-bulk.json", `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(
    "bench/results/migration-bulk.md",
    [
      "# Bulk load against pg_dump | psql (bench/migration/bulk.ts)",
      "",
      `${results.machine}; ${results.when}. ${total} legacy rows (${PACIENTES} pacientes, seed 42), ${ROUNDS} alternating rounds, best of each.`,
      "",
      "| | seconds (each round) | best | rows/s |",
      "| --- | --- | ---: | ---: |",
      `| \`pg_dump \\| psql\` (schema + data, no mapping) | ${dump.map((s) => s.toFixed(2)).join(", ")} | ${best(dump).toFixed(2)} | ${Math.round(total / best(dump))} |`,
      `| \`migrate:bulk\` (COPY → staging → mapped, checked, upserted through the local endpoint) | ${mine.map((s) => s.toFixed(2)).join(", ")} | ${best(mine).toFixed(2)} | ${Math.round(total / best(mine))} |`,
      "",
      `Ratio (pg_dump | psql time / ours; goal ≥ 1.0): **${ratio.toFixed(2)}×**.`,
      "",
    ].join("\n"),
  );
  log("wrote bench/results/migration-bulk.{json,md}");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
