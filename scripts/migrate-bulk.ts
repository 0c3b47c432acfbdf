/**
 * `npm run migrate:bulk -- --source <legacy url> --target <owner url> [--tables a,b] [--parallel 3]
 * [--chunk 5000]`: the bulk load of the legacy PostgreSQL into the new schema (db/migration/bulk.ts).
 * Resumable: run it again after a failure and each table continues after its watermark; tables
 * already handed over to the sync are skipped. Progress per table on stderr (rows, rows/s, ETA);
 * the report and the counts check at the end on stdout.
 */
import pg from "pg";
import { type BulkProgress, bulkLoad } from "../db/migration/bulk";
import { isMigratedTable, MIGRATED_TABLES, type MigratedTableName } from "../db/migration/tables";
import { openClient } from "../db/owner-client";
import { arg, run } from "./lib/cli";
import { configureNeonFromEnv } from "./lib/owner";

const USAGE =
  "usage: npm run migrate:bulk -- --source <legacy postgres url> --target <owner url> [--tables a,b] [--parallel 3] [--chunk 5000]";
const FLAGS = new Set(["--source", "--target", "--tables", "--parallel", "--chunk"]);

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function positive(name: string, fallback: number): number {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer`);
  return n;
}

run("migrate:bulk", async () => {
  const unknown = process.argv.slice(2).filter((a) => a.startsWith("--") && !FLAGS.has(a));
  if (unknown.length) usage(`unknown flag ${unknown.join(", ")}`);
  const sourceUrl = arg("source");
  const targetUrl = arg("target") ?? process.env.DATABASE_OWNER_URL;
  if (!sourceUrl || !/^postgres(ql)?:\/\//.test(sourceUrl)) usage("--source must be a postgresql:// URL");
  if (!targetUrl || !/^postgres(ql)?:\/\//.test(targetUrl))
    usage("--target (or DATABASE_OWNER_URL) must be a postgresql:// URL");
  let tables: MigratedTableName[] = [...MIGRATED_TABLES];
  const tablesArg = arg("tables");
  if (tablesArg !== undefined) {
    const names = tablesArg.split(",").map((s) => s.trim());
    const bad = names.filter((n) => !isMigratedTable(n));
    if (bad.length) usage(`--tables: unknown table ${bad.join(", ")} (known: ${MIGRATED_TABLES.join(", ")})`);
    tables = names as MigratedTableName[];
  }
  const parallel = positive("parallel", 3);
  const chunk = positive("chunk", 5000);
  const neon = configureNeonFromEnv(targetUrl);

  const progress = new Map<string, BulkProgress>();
  let lastDraw = 0;
  const draw = (force = false) => {
    const now = performance.now();
    if (!force && now - lastDraw < (process.stderr.isTTY ? 200 : 2000)) return;
    lastDraw = now;
    const lines = [...progress.values()].map(line);
    if (process.stderr.isTTY) process.stderr.write(`\x1b[${lines.length}A\x1b[0J${lines.join("\n")}\n`);
    else for (const l of lines) process.stderr.write(`${l}\n`);
  };
  if (process.stderr.isTTY) process.stderr.write("\n".repeat(tables.length));
  for (const t of tables)
    progress.set(t, { table: t, phase: "waiting", total: 0, copied: 0, applied: 0, quarantined: 0 });

  const started = performance.now();
  const reports = await bulkLoad({
    tables,
    parallel,
    chunk,
    async openSource() {
      const c = new pg.Client({ connectionString: sourceUrl, application_name: "fisioflow-migrate-bulk" });
      await c.connect();
      return { client: c, close: () => c.end() };
    },
    openTarget: () => openClient(targetUrl, neon),
    onProgress(p) {
      const prev = progress.get(p.table)?.phase;
      progress.set(p.table, { ...p });
      draw(prev !== p.phase);
    },
  });
  draw(true);
  const seconds = (performance.now() - started) / 1000;
  console.log("table            status          staged   applied  quarantined  left to sync  seconds");
  for (const r of reports) {
    console.log(
      `${r.table.padEnd(16)} ${r.status.padEnd(14)} ${String(r.staged).padStart(8)} ${String(r.applied).padStart(9)} ${String(r.quarantined).padStart(12)} ${String(r.leftToSync).padStart(13)} ${r.seconds.toFixed(1).padStart(8)}`,
    );
  }
  const staged = reports.reduce((a, r) => a + r.staged, 0);
  console.log(
    `counts checked: staged = applied + quarantined + left to the sync for every table; ${staged} rows in ${seconds.toFixed(1)} s (${Math.round(staged / seconds)} rows/s); every table handed over to the sync`,
  );
});

function line(p: BulkProgress): string {
  const name = p.table.padEnd(16);
  if (p.phase === "waiting") return `${name} waiting for its parents`;
  if (p.phase === "skipped") return `${name} already handed over to the sync`;
  if (p.phase === "failed") return `${name} FAILED`;
  const elapsed = p.startedAt ? (performance.now() - p.startedAt) / 1000 : 0;
  const doneRows = p.phase === "copying" ? p.copied : p.applied + p.quarantined;
  const rate = elapsed > 0 ? doneRows / elapsed : 0;
  const total = Math.max(p.total, 1);
  const pct = Math.min(100, Math.round((doneRows / total) * 100));
  const bar = "#".repeat(Math.round(pct / 5)).padEnd(20, ".");
  const eta = rate > 0 && p.phase !== "done" ? `ETA ${Math.ceil((total - doneRows) / rate)} s` : "";
  return `${name} ${p.phase.padEnd(8)} [${bar}] ${doneRows}/${p.total} rows  ${Math.round(rate)} rows/s  ${eta}`;
}
