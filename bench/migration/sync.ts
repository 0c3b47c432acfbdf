/**
 * `npm run bench:migration-sync`: the incremental sync at scale, and against the row-by-row loop.
 *
 * On the machine's PostgreSQL (LOCAL_POSTGRES_URL): a legacy database generated with
 * `--pacientes` (default 10 000; about 80 000 rows in all, with its anomalies), and a target
 * behind the local Neon endpoint (PostgreSQL backend, migrated), reached as the worker reaches Neon:
 * the driver's Pool over WebSocket, as the owner. Then:
 *   1. batched: every table synced with `syncBatch` (1000 rows per batch) until caught up; then
 *      every table verified (counts and checksums in the databases) and the quarantine counted by
 *      reason against the generator's report of the anomalies it injected;
 *   2. row by row: the same pacientes again into a fresh target table set, one upsert statement
 *      and one watermark update per row (the loop the plan's first draft had), for the first
 *      `--loop-rows` rows (default 2000), against the batched sync of the same rows.
 * Writes bench/results/migration-sync.{json,md}. Throw-away databases are dropped afterwards.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import pg from "pg";
import { generateLegacy, installLegacySchema } from "../../db/legacy/generate";
import { migrate } from "../../db/migrate";
import { syncToHorizon } from "../../db/migration/sync";
import { MIGRATED_TABLES, mappedSelect, TABLES } from "../../db/migration/tables";
import { verifyTable } from "../../db/migration/verify";
import { openClient } from "../../db/owner-client";
import { SYSTEM_SQL } from "../../db/session";
import { LOCAL } from "../../dev/config";
import { startNeonEndpoint } from "../../dev/neon";
import { configureNeonForLocal } from "../../dev/neon/client";
import { ADMIN_URL, admin, databaseUrl } from "../neon-endpoint/shared";

const { values: args } = parseArgs({
  options: {
    pacientes: { type: "string", default: "10000" },
    "loop-rows": { type: "string", default: "2000" },
    "batch-size": { type: "string", default: "1000" },
  },
});
const PACIENTES = Number(args.pacientes);
const LOOP_ROWS = Number(args["loop-rows"]);
const BATCH = Number(args["batch-size"]);
for (const [k, v] of Object.entries({ pacientes: PACIENTES, "loop-rows": LOOP_ROWS, "batch-size": BATCH }))
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);

const LEGACY = "fisioflow_bench_legacy";
const TARGET = "fisioflow_bench_target";
const log = (line: string) => console.log(`[migration-sync] ${line}`);

async function main() {
  await admin(`drop database if exists ${LEGACY} with (force)`);
  await admin(`create database ${LEGACY}`);
  const source = new pg.Client({ connectionString: databaseUrl(LEGACY) });
  await source.connect();
  await installLegacySchema(source);
  let t0 = performance.now();
  const report = await generateLegacy(source, { pacientes: PACIENTES });
  const totalRows = Object.values(report.rows).reduce((a, b) => a + b, 0);
  log(`legacy: ${totalRows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Everything is committed: no need to wait out the horizon's margin.
  await new Promise((r) => setTimeout(r, 1100));

  const endpoint = await startNeonEndpoint({
    port: 0,
    postgresUrl: ADMIN_URL,
    database: TARGET,
    log: () => {},
  });
  configureNeonForLocal(endpoint);
  const ownerUrl = endpoint.connectionString("fisioflow_owner");
  await migrate(ownerUrl, { neon: true, identityKey: LOCAL.identityKey });
  const target = await openClient(ownerUrl);
  const results: Record<string, unknown> = { pacientes: PACIENTES, rows: report.rows, batchSize: BATCH };
  try {
    // 1. batched, every table
    const perTable: Record<string, { rows: number; batches: number; seconds: number }> = {};
    t0 = performance.now();
    for (const table of MIGRATED_TABLES) {
      const start = performance.now();
      const r = await syncToHorizon(source, target.client as never, table, { batchSize: BATCH });
      if (r.outcome !== "caught-up") throw new Error(`${table}: ${r.outcome}`);
      const { read: rows, batches } = r;
      perTable[table] = { rows, batches, seconds: (performance.now() - start) / 1000 };
      log(`${table}: ${rows} rows in ${batches} batches, ${perTable[table].seconds.toFixed(2)} s`);
    }
    const batchedSeconds = (performance.now() - t0) / 1000;
    log(
      `batched: ${totalRows} rows in ${batchedSeconds.toFixed(1)} s (${Math.round(totalRows / batchedSeconds)} rows/s)`,
    );
    const verified = [];
    for (const table of MIGRATED_TABLES)
      verified.push(await verifyTable(source, target.client as never, table));
    for (const v of verified)
      log(
        `verify ${v.table}: ${v.ok ? "equal" : "DIFFERENT"} (${v.target.count} rows, ${v.quarantined} quarantined)`,
      );
    await target.client.query("BEGIN");
    await target.client.query(SYSTEM_SQL);
    const { rows: reasons } = await target.client.query(
      "select tabela, motivo, count(*)::int as n from migration.quarentena group by 1, 2 order by 1, 2",
    );
    await target.client.query("COMMIT");
    for (const r of reasons) log(`quarantine ${r.tabela}/${r.motivo}: ${r.n}`);
    results.batched = { seconds: batchedSeconds, rowsPerSecond: totalRows / batchedSeconds, perTable };
    results.verified = verified;
    results.quarantine = reasons;
    results.injected = {
      cpfDuplicado: report.anomalies.cpfDuplicado.length,
      dataInvalida: report.anomalies.dataInvalida.length,
      consultaSobreposta: report.anomalies.consultaSobreposta.length,
    };

    // 2. row by row vs batched, the same pacientes into scratch copies of the table
    const t = TABLES.pacientes;
    const { rows: got } = await source.query(
      `SELECT coalesce(json_agg(m ORDER BY m._updated_at, m.id), '[]')::text AS rows
         FROM (${mappedSelect(t)} WHERE true ORDER BY s.updated_at, s.id LIMIT $1) m`,
      [LOOP_ROWS],
    );
    const rows = (JSON.parse(got[0]!.rows as string) as Record<string, unknown>[]).filter((r) => !r._motivo);
    const cols = t.columns;
    const setup = async (name: string) => {
      await target.client.query(`DROP TABLE IF EXISTS migration.${name}`);
      await target.client.query(
        `CREATE TABLE migration.${name} (LIKE public.pacientes INCLUDING DEFAULTS, PRIMARY KEY (id))`,
      );
    };
    await setup("bench_loop");
    await setup("bench_batch");
    await target.client.query(
      "INSERT INTO migration.tabelas (tabela) VALUES ('bench_loop'), ('bench_batch') ON CONFLICT DO NOTHING",
    );
    const upsertSql = (table: string, values: string) =>
      `INSERT INTO migration.${table} AS x (${cols.join(", ")}) ${values}
       ON CONFLICT (id) DO UPDATE SET ${cols
         .filter((c) => c !== "id")
         .map((c) => `${c} = excluded.${c}`)
         .join(", ")}`;
    t0 = performance.now();
    await target.client.query("BEGIN");
    for (const r of rows) {
      await target.client.query(
        upsertSql("bench_loop", `VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})`),
        cols.map((c) => r[c] ?? null),
      );
      await target.client.query(
        "UPDATE migration.tabelas SET watermark_at = $2::timestamptz, watermark_id = $3::uuid WHERE tabela = $1",
        ["bench_loop", r._updated_at, r.id],
      );
    }
    await target.client.query("COMMIT");
    const loopSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    for (let i = 0; i < rows.length; i += BATCH) {
      const chunk = rows.slice(i, i + BATCH);
      await target.client.query("BEGIN");
      await target.client.query(
        upsertSql(
          "bench_batch",
          `SELECT ${cols.join(", ")} FROM json_populate_recordset(NULL::public.pacientes, $1::json)`,
        ),
        [JSON.stringify(chunk.map((r) => Object.fromEntries(cols.map((c) => [c, r[c] ?? null]))))],
      );
      const last = chunk.at(-1)!;
      await target.client.query(
        "UPDATE migration.tabelas SET watermark_at = $2::timestamptz, watermark_id = $3::uuid WHERE tabela = $1",
        ["bench_batch", last._updated_at, last.id],
      );
      await target.client.query("COMMIT");
    }
    const batchSeconds = (performance.now() - t0) / 1000;
    const check = await target.client.query(
      "select (select count(*) from migration.bench_loop)::int as loop, (select count(*) from migration.bench_batch)::int as batch",
    );
    if (check.rows[0]!.loop !== rows.length || check.rows[0]!.batch !== rows.length)
      throw new Error(`loop and batch disagree: ${JSON.stringify(check.rows[0])}`);
    const ratio = loopSeconds / batchSeconds;
    log(
      `${rows.length} pacientes: row by row ${loopSeconds.toFixed(2)} s, batched ${batchSeconds.toFixed(3)} s → ${ratio.toFixed(1)}×`,
    );
    results.loopVsBatch = { rows: rows.length, loopSeconds, batchSeconds, ratio };
    await target.client.query("DROP TABLE migration.bench_loop, migration.bench_batch");
    await target.client.query("DELETE FROM migration.tabelas WHERE tabela IN ('bench_loop', 'bench_batch')");
  } finally {
    await target.close();
    await source.end();
    await endpoint.close();
    await admin(`drop database if exists ${LEGACY} with (force)`);
    await admin(`drop database if exists ${TARGET} with (force)`);
  }

  results.machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, node ${process.version}`;
  results.when = new Date().toISOString();
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/migration-sync.json", `${JSON.stringify(results, null, 2)}\n`);
  const b = results.batched as {
    seconds: number;
    rowsPerSecond: number;
    perTable: Record<string, { rows: number; batches: number; seconds: number }>;
  };
  const l = results.loopVsBatch as { rows: number; loopSeconds: number; batchSeconds: number; ratio: number };
  const md = [
    "# Incremental sync (bench/migration/sync.ts)",
    "",
    `${results.machine}; ${results.when}. Legacy source and target on the machine's PostgreSQL 15; the target behind the local Neon endpoint, reached over the driver's WebSocket Pool as the owner (as the worker reaches Neon). ${PACIENTES} pacientes generated (seed 42), batches of ${BATCH}.`,
    "",
    "| table | rows | batches | seconds | rows/s |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...Object.entries(b.perTable).map(
      ([k, v]) =>
        `| ${k} | ${v.rows} | ${v.batches} | ${v.seconds.toFixed(2)} | ${Math.round(v.rows / v.seconds)} |`,
    ),
    `| all | ${Object.values(b.perTable).reduce((a, v) => a + v.rows, 0)} | | ${b.seconds.toFixed(2)} | ${Math.round(b.rowsPerSecond)} |`,
    "",
    `Verification after catching up: ${(results.verified as { table: string; ok: boolean }[]).map((v) => `${v.table} ${v.ok ? "equal" : "DIFFERENT"}`).join(", ")}.`,
    "",
    `Quarantine: ${(results.quarantine as { tabela: string; motivo: string; n: number }[]).map((r) => `${r.tabela}/${r.motivo} ${r.n}`).join(", ")}; the generator injected ${JSON.stringify(results.injected)}.`,
    "",
    `Row by row against batched, the same ${l.rows} pacientes (goal ≥ 20×): row by row ${l.loopSeconds.toFixed(2)} s, batched ${l.batchSeconds.toFixed(3)} s: **${l.ratio.toFixed(1)}×**.`,
    "",
  ].join("\n");
  writeFileSync("bench/results/migration-sync.md", md);
  log("wrote bench/results/migration-sync.{json,md}");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
