/**
 * The bulk load: each legacy table streamed with COPY into the target, then applied with the
 * sync's own rules, and handed over to the incremental sync at a recorded watermark.
 *
 * Per table (tables whose parents are loaded run several at once):
 * 1. The source's horizon H (sync.ts), then, in one REPEATABLE READ snapshot, `COPY (mapped rows
 *    after the table's watermark and below H, in keyset order, numbered) TO STDOUT`, piped into
 *    `COPY migration.carga_<table> FROM STDIN` on the target (an UNLOGGED staging table). No row
 *    passes through JavaScript on the way in.
 * 2. The staging table is applied in chunks (default 5000 rows), each in one target transaction:
 *    planRows/applyRows from sync.ts (the same quarantine, conflict checks and one multi-row
 *    upsert), and the watermark moved by compare-and-set to the chunk's last row. A crash loses
 *    at most the chunk in flight; the next run starts again after the watermark (a new COPY of
 *    what is left), so a table is resumable, and never applied twice.
 * 3. Rows that must wait for a parent (written to the source during the load) end the table's
 *    bulk phase before them. Either way the table is handed to the sync (`fase` 'sync') at its
 *    watermark: rows written during the load are above H or after the watermark, so the sync
 *    (which reads after the watermark, below its own horizon) finds every one of them.
 * 4. Counts are checked: rows staged = rows applied + quarantined + left to the sync.
 */

import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { SYSTEM_SQL } from "../session";
import {
  applyRows,
  type MappedRow,
  planRows,
  readState,
  type SqlClient,
  sourceHorizon,
  syncToHorizon,
} from "./sync";
import { MIGRATED_TABLES, type MigratedTableName, mappedSelect, TABLES } from "./tables";

export interface BulkProgress {
  table: MigratedTableName;
  phase: "waiting" | "copying" | "applying" | "done" | "skipped" | "failed";
  /** Rows to load (counted before the COPY). */
  total: number;
  copied: number;
  applied: number;
  quarantined: number;
  startedAt?: number;
}

export interface BulkTableReport {
  table: MigratedTableName;
  status: "loaded" | "already-synced";
  staged: number;
  applied: number;
  quarantined: number;
  /** Rows left to the sync (a parent not loaded yet). */
  leftToSync: number;
  watermark: { at: string; id: string } | null;
  seconds: number;
}

export interface BulkOptions {
  /**
   * Opens a fresh source connection for one table's work: a pg Client (it runs the COPY stream
   * through `query(copyTo(...))`; the Neon driver's Client, a pg fork, does too on the target).
   */
  openSource(): Promise<{ client: SqlClient; close(): Promise<void> }>;
  /** Opens a fresh target connection (the owner) for one table's work. */
  openTarget(): Promise<{ client: SqlClient; close(): Promise<void> }>;
  tables?: readonly MigratedTableName[];
  /** Tables loaded at once, default 3. */
  parallel?: number;
  /** Rows per applied chunk, default 5000. */
  chunk?: number;
  horizonMarginMs?: number;
  onProgress?(p: BulkProgress): void;
}

const STAGING = (t: MigratedTableName) => `migration.carga_${t}`;

/** Loads every table (or `tables`), parents before children, `parallel` at a time. */
export async function bulkLoad(opts: BulkOptions): Promise<BulkTableReport[]> {
  const wanted = opts.tables ?? MIGRATED_TABLES;
  const parallel = opts.parallel ?? 3;
  if (!Number.isInteger(parallel) || parallel < 1) throw new Error("parallel must be a positive integer");
  const done = new Map<MigratedTableName, Promise<BulkTableReport>>();
  let running = 0;
  const queue: (() => void)[] = [];
  const slot = async () => {
    if (running >= parallel) await new Promise<void>((r) => queue.push(r));
    running++;
  };
  const release = () => {
    running--;
    queue.shift()?.();
  };
  for (const table of MIGRATED_TABLES) {
    if (!wanted.includes(table)) continue;
    const parents = TABLES[table].parents.map((p) => p.table).filter((p) => done.has(p));
    done.set(
      table,
      (async () => {
        opts.onProgress?.({ table, phase: "waiting", total: 0, copied: 0, applied: 0, quarantined: 0 });
        await Promise.all(parents.map((p) => done.get(p)));
        await slot();
        try {
          return await loadTable(table, opts);
        } catch (err) {
          opts.onProgress?.({ table, phase: "failed", total: 0, copied: 0, applied: 0, quarantined: 0 });
          throw err;
        } finally {
          release();
        }
      })(),
    );
  }
  const settled = await Promise.allSettled(done.values());
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<BulkTableReport>).value);
}

async function loadTable(table: MigratedTableName, opts: BulkOptions): Promise<BulkTableReport> {
  const t = TABLES[table];
  const started = performance.now();
  const progress: BulkProgress = { table, phase: "copying", total: 0, copied: 0, applied: 0, quarantined: 0 };
  const source = await opts.openSource();
  const target = await opts.openTarget();
  try {
    const state = await readPhase(target.client, table);
    if (state.fase !== "pendente" && state.fase !== "bulk") {
      progress.phase = "skipped";
      opts.onProgress?.(progress);
      return {
        table,
        status: "already-synced",
        staged: 0,
        applied: 0,
        quarantined: 0,
        leftToSync: 0,
        watermark: state.watermark,
        seconds: 0,
      };
    }
    const from = state.watermark;
    const horizon = await sourceHorizon(source.client, opts.horizonMarginMs ?? 1000);
    // COPY takes no parameters: the bounds are literals (a timestamp and a uuid we read ourselves).
    const lit = (v: string | null) => (v === null ? "NULL" : `'${v.replace(/'/g, "''")}'`);
    const bounds = from
      ? `(s.updated_at, s.id) > (${lit(from.at)}::timestamptz, ${lit(from.id)}::uuid) AND s.updated_at < ${lit(horizon)}::timestamptz`
      : `s.updated_at < ${lit(horizon)}::timestamptz`;

    // 1. COPY source → staging, in one snapshot
    const cols = [...t.columns, "_motivo", "_updated_at"];
    await target.client.query(`DROP TABLE IF EXISTS ${STAGING(table)}`);
    await target.client.query(
      `CREATE UNLOGGED TABLE ${STAGING(table)} AS
         SELECT ${t.columns.join(", ")}, NULL::text AS _motivo, NULL::timestamptz AS _updated_at, NULL::bigint AS ord
           FROM public.${table} WITH NO DATA`,
    );
    await source.client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      await source.client.query("SET LOCAL TimeZone TO 'UTC'");
      const { rows: count } = await source.client.query(
        `SELECT count(*)::bigint::text AS n FROM public.${table} s WHERE ${bounds}`,
      );
      progress.total = Number(count[0]!.n);
      progress.startedAt = performance.now();
      opts.onProgress?.(progress);
      const select = `SELECT ${cols.map((c) => `m.${c}`).join(", ")}, row_number() OVER (ORDER BY m._updated_at, m.id)
                        FROM (${mappedSelect(t)} WHERE ${bounds}) m ORDER BY m._updated_at, m.id`;
      const out = (source.client as unknown as { query(s: unknown): NodeJS.ReadableStream }).query(
        copyTo(`COPY (${select}) TO STDOUT`),
      );
      const into = (target.client as unknown as { query(s: unknown): NodeJS.WritableStream }).query(
        copyFrom(`COPY ${STAGING(table)} (${cols.join(", ")}, ord) FROM STDIN`),
      );
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          let n = 0;
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
          progress.copied += n;
          opts.onProgress?.(progress);
          cb(null, chunk);
        },
      });
      await pipeline(out, counter, into);
      await source.client.query("COMMIT");
    } catch (err) {
      await source.client.query("ROLLBACK").catch(() => {});
      throw err;
    }
    const { rows: stagedRows } = await target.client.query(
      `SELECT count(*)::int AS n FROM ${STAGING(table)}`,
    );
    const staged = stagedRows[0]!.n as number;
    if (staged !== progress.total)
      throw new Error(`${table}: staged ${staged} rows, but the source had ${progress.total} to load`);
    await target.client.query(`CREATE INDEX ON ${STAGING(table)} (ord)`);

    // 2. apply in chunks, each moving the watermark by compare-and-set
    progress.phase = "applying";
    opts.onProgress?.(progress);
    const chunk = opts.chunk ?? 5000;
    let watermark = from;
    let applied = 0;
    let quarantined = 0;
    let leftToSync = 0;
    let pos = 0;
    let caughtUpParentsAt = -1;
    while (pos < staged) {
      await target.client.query("BEGIN");
      let waiting = false;
      try {
        await target.client.query(SYSTEM_SQL);
        const { rows: got } = await target.client.query(
          `SELECT coalesce(json_agg(c ORDER BY c.ord), '[]')::text AS rows
             FROM ${STAGING(table)} c WHERE c.ord > $1 AND c.ord <= $2`,
          [pos, pos + chunk],
        );
        const rows = JSON.parse(got[0]!.rows as string) as MappedRow[];
        const plan = await planRows(target.client, t, rows);
        if (plan.batch.length) {
          const last = plan.batch.at(-1)!;
          const moved = await target.client.query(
            `UPDATE migration.tabelas
                SET watermark_at = $2::timestamptz, watermark_id = $3::uuid, lotes = lotes + 1,
                    ultima_execucao = now(), fase = 'bulk'
              WHERE tabela = $1 AND watermark_at IS NOT DISTINCT FROM $4::timestamptz
                AND watermark_id IS NOT DISTINCT FROM $5::uuid AND fase IN ('pendente', 'bulk')`,
            [table, last._updated_at, last.id, watermark?.at ?? null, watermark?.id ?? null],
          );
          if (!moved.rowCount)
            throw new Error(`${table}: the watermark moved under the bulk load (is another load running?)`);
          const r = await applyRows(target.client, t, plan);
          await target.client.query(
            `UPDATE migration.tabelas SET linhas_aplicadas = linhas_aplicadas + $2,
                    linhas_quarentena = (SELECT count(*) FROM migration.quarentena WHERE tabela = $1)
              WHERE tabela = $1`,
            [table, r.appliedIds.length],
          );
          applied += r.appliedIds.length;
          quarantined += r.quarantine.size;
          watermark = { at: last._updated_at, id: last.id };
        }
        await target.client.query("COMMIT");
        pos += plan.batch.length;
        waiting = plan.waiting.length > 0;
        progress.applied = applied;
        progress.quarantined = quarantined;
        opts.onProgress?.(progress);
      } catch (err) {
        await target.client.query("ROLLBACK").catch(() => {});
        throw err;
      }
      if (!waiting) continue;
      if (caughtUpParentsAt === pos) {
        // Still waiting after the parents caught up: everything from here on is the sync's.
        leftToSync = staged - pos;
        break;
      }
      // A parent written (or rewritten) during the load is newer than its table's bulk copy: bring
      // the parent tables up to date with the sync, then go on from the same row.
      caughtUpParentsAt = pos;
      for (const parent of new Set(t.parents.map((p) => p.table)))
        await syncToHorizon(source.client, target.client, parent, { horizonMarginMs: opts.horizonMarginMs });
    }

    // 3. hand over to the sync, 4. counts
    await target.client.query(
      `UPDATE migration.tabelas SET fase = 'sync' WHERE tabela = $1 AND fase IN ('pendente', 'bulk')`,
      [table],
    );
    await target.client.query(`DROP TABLE ${STAGING(table)}`);
    if (applied + quarantined + leftToSync !== staged)
      throw new Error(
        `${table}: counts disagree: staged ${staged}, applied ${applied}, quarantined ${quarantined}, left to the sync ${leftToSync}`,
      );
    progress.phase = "done";
    opts.onProgress?.(progress);
    return {
      table,
      status: "loaded",
      staged,
      applied,
      quarantined,
      leftToSync,
      watermark,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await source.close().catch(() => {});
    await target.close().catch(() => {});
  }
}

async function readPhase(
  target: SqlClient,
  table: MigratedTableName,
): Promise<{ fase: string; watermark: { at: string; id: string } | null }> {
  const watermark = await readState(target, table);
  const { rows } = await target.query("SELECT fase FROM migration.tabelas WHERE tabela = $1", [table]);
  return { fase: rows[0]!.fase as string, watermark };
}
