/**
 * One incremental sync batch of one table: legacy source → target, with nothing lost or applied
 * twice. See db/migration/README.md for the reasoning; in short:
 *
 * 1. The source's horizon: the start of its oldest transaction that holds an xid (in this
 *    database: others cannot write its tables), or now() minus
 *    a margin, whichever is earlier. Every legacy row's updated_at is set by a trigger to the time
 *    of the write, so a row below the horizon belongs to a transaction that has ended, and no
 *    transaction can still add one there. Read in its own statement, before the rows' snapshot.
 * 2. The rows after the watermark and below the horizon, in keyset order (updated_at, id), at most
 *    `batchSize`, mapped by the source query (tables.ts) and sent as one JSON text.
 * 3. In one target transaction: rows whose parent has not arrived yet end the batch before them
 *    (the next run applies them); rows the target refuses (their own reason, a parent in
 *    quarantine, a conflict check) go to migration.quarentena; the watermark moves by
 *    compare-and-set from the value read in step 2 (0 rows: another delivery got there first,
 *    and this one rolls back); the rest are applied with one multi-row upsert. A constraint the
 *    checks did not foresee (a race with the API) is isolated by halving the batch under
 *    savepoints, and only the offending rows are quarantined.
 */
import { SYSTEM_SQL } from "../session";
import { isMigratedTable, type MigratedTable, type MigratedTableName, mappedSelect, TABLES } from "./tables";

export interface SqlClient {
  query(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount?: number | null }>;
}

export interface SyncOptions {
  /** Rows per batch, default 1000. */
  batchSize?: number;
  /** How far behind now() the horizon stays at least, default 1000 ms. */
  horizonMarginMs?: number;
  /** Called once the batch's rows are read, before the target transaction (tests line a CDC run
   * or a source restart up there). */
  afterRead?: () => Promise<void>;
}

export interface SyncBatchResult {
  table: MigratedTableName;
  /** applied: rows went in; caught-up: nothing below the horizon; moved: another run advanced the
   * watermark first (nothing done); waiting: the first row's parent has not arrived yet. */
  outcome: "applied" | "caught-up" | "moved" | "waiting";
  read: number;
  applied: number;
  quarantined: number;
  /** The watermark after the batch. */
  watermark: { at: string; id: string } | null;
  /** Whether rows may remain below the horizon (run again at once). */
  more: boolean;
  /** Seconds between the watermark and the source's horizon. */
  lagSeconds: number | null;
  /** caught-up, but rows exist above the horizon (too recent to be safe yet): look again soon. */
  pending: boolean;
}

type Row = Record<string, unknown> & { id: string; _motivo: string | null; _updated_at: string };

export const DEFAULT_BATCH_SIZE = 1000;

/** Reads the source's horizon: see the header, step 1. */
export async function sourceHorizon(source: SqlClient, marginMs: number): Promise<string> {
  const { rows } = await source.query(
    `SELECT least(
        (SELECT min(xact_start) FROM pg_stat_activity
          WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()),
        clock_timestamp() - make_interval(secs => $1::double precision / 1000)
      )::text AS horizon`,
    [marginMs],
  );
  return rows[0]!.horizon as string;
}

export async function readState(
  target: SqlClient,
  table: MigratedTableName,
): Promise<{ at: string; id: string } | null> {
  await target.query(`INSERT INTO migration.tabelas (tabela) VALUES ($1) ON CONFLICT (tabela) DO NOTHING`, [
    table,
  ]);
  const { rows } = await target.query(
    `SELECT watermark_at::text AS at, watermark_id::text AS id FROM migration.tabelas WHERE tabela = $1`,
    [table],
  );
  const r = rows[0];
  return r?.at ? { at: r.at as string, id: r.id as string } : null;
}

/** Runs one batch of `table`; `target` must be an interactive connection as the owner. */
export async function syncBatch(
  source: SqlClient,
  target: SqlClient,
  tableName: string,
  opts: SyncOptions = {},
): Promise<SyncBatchResult> {
  if (!isMigratedTable(tableName)) throw new Error(`unknown migrated table ${tableName}`);
  const t = TABLES[tableName];
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 50_000)
    throw new Error(`batch size must be an integer from 1 to 50000, got ${batchSize}`);

  const from = await readState(target, tableName);
  const horizon = await sourceHorizon(source, opts.horizonMarginMs ?? 1000);
  const { rows: got } = await source.query(
    `SELECT coalesce(json_agg(m ORDER BY m._updated_at, m.id), '[]')::text AS rows
       FROM (${mappedSelect(t)}
              WHERE ($1::timestamptz IS NULL OR (s.updated_at, s.id) > ($1::timestamptz, $2::uuid))
                AND s.updated_at < $3::timestamptz
              ORDER BY s.updated_at, s.id
              LIMIT $4) m`,
    [from?.at ?? null, from?.id ?? null, horizon, batchSize],
  );
  const rows = JSON.parse(got[0]!.rows as string) as Row[];
  if (rows.length) await opts.afterRead?.();
  const base: SyncBatchResult = {
    table: tableName,
    outcome: "caught-up",
    read: rows.length,
    applied: 0,
    quarantined: 0,
    watermark: from,
    more: false,
    lagSeconds: null,
    pending: false,
  };
  if (!rows.length) {
    const { rows: above } = await source.query(
      `SELECT EXISTS (SELECT 1 FROM public.${t.name} s
                       WHERE $1::timestamptz IS NULL OR (s.updated_at, s.id) > ($1::timestamptz, $2::uuid)) AS pending`,
      [from?.at ?? null, from?.id ?? null],
    );
    return {
      ...base,
      pending: Boolean(above[0]?.pending),
      lagSeconds: await recordLag(target, tableName, from, horizon),
    };
  }

  await target.query("BEGIN");
  try {
    await target.query(SYSTEM_SQL);
    const plan = await planRows(target, t, rows);
    if (!plan.batch.length) {
      await target.query("ROLLBACK");
      return { ...base, outcome: "waiting", read: rows.length, more: true };
    }
    const batch = plan.batch;
    const last = batch.at(-1)!;
    const moved = await target.query(
      `UPDATE migration.tabelas
          SET watermark_at = $2::timestamptz, watermark_id = $3::uuid, lotes = lotes + 1,
              ultima_execucao = now(), fase = CASE WHEN fase IN ('pendente', 'bulk') THEN 'sync' ELSE fase END
        WHERE tabela = $1 AND watermark_at IS NOT DISTINCT FROM $4::timestamptz
          AND watermark_id IS NOT DISTINCT FROM $5::uuid`,
      [tableName, last._updated_at, last.id, from?.at ?? null, from?.id ?? null],
    );
    if (!moved.rowCount) {
      await target.query("ROLLBACK");
      return { ...base, outcome: "moved", read: rows.length };
    }
    // A row CDC deleted after this batch read it must not come back. CDC takes this table's
    // migration.tabelas row lock before applying, which the compare-and-set above now holds: a
    // delete applied before it is visible in the source by now, and one after it waits for this
    // transaction and then applies. So drop what the source no longer has (the watermark still
    // moves past it).
    const { rows: still } = await source.query(
      `SELECT id::text AS id FROM public.${t.name} WHERE id = ANY($1::uuid[])`,
      [batch.map((r) => r.id)],
    );
    const present = new Set(still.map((r) => r.id as string));
    if (present.size < batch.length) {
      plan.batch = batch.filter((r) => present.has(r.id));
      for (const id of [...plan.quarantine.keys()]) if (!present.has(id)) plan.quarantine.delete(id);
    }
    const { appliedIds, quarantine } = await applyRows(target, t, plan);
    await target.query(
      `UPDATE migration.tabelas SET linhas_aplicadas = linhas_aplicadas + $2,
              linhas_quarentena = (SELECT count(*) FROM migration.quarentena WHERE tabela = $1)
        WHERE tabela = $1`,
      [tableName, appliedIds.length],
    );
    await target.query("COMMIT");
    const watermark = { at: last._updated_at, id: last.id };
    const lagSeconds = await recordLag(target, tableName, watermark, horizon);
    return {
      ...base,
      outcome: "applied",
      applied: appliedIds.length,
      quarantined: quarantine.size,
      watermark,
      more: rows.length === batchSize || batch.length < rows.length,
      lagSeconds,
    };
  } catch (err) {
    await target.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

export interface SyncToHorizonResult {
  table: MigratedTableName;
  /** caught-up: nothing left below the horizon; waiting: a row waits for its parent; moved: another
   * run advanced the watermark first. */
  outcome: "caught-up" | "waiting" | "moved";
  /** Batches that applied rows. */
  batches: number;
  read: number;
  applied: number;
  quarantined: number;
}

/**
 * Batches of `table` until nothing is left below the source's horizon (or a row waits for its
 * parent, or another run moves the watermark): what the cut-over, the bulk load's parent catch-up,
 * the rehearsal, the benchmark and the tests run; the QStash job runs one batch per message.
 */
export async function syncToHorizon(
  source: SqlClient,
  target: SqlClient,
  table: MigratedTableName,
  opts: SyncOptions & { maxBatches?: number } = {},
): Promise<SyncToHorizonResult> {
  const out: SyncToHorizonResult = {
    table,
    outcome: "caught-up",
    batches: 0,
    read: 0,
    applied: 0,
    quarantined: 0,
  };
  for (let i = 0; i < (opts.maxBatches ?? 100_000); i++) {
    const r = await syncBatch(source, target, table, opts);
    out.read += r.read;
    out.applied += r.applied;
    out.quarantined += r.quarantined;
    if (r.outcome !== "applied") return { ...out, outcome: r.outcome };
    out.batches++;
    // Fewer rows than a batch and none waiting: the horizon is reached.
    if (!r.more) return out;
  }
  throw new Error(`${table}: still rows below the horizon after ${opts.maxBatches ?? 100_000} batches`);
}

/** A row as the source query maps it (tables.ts `mappedSelect`): target columns + reason + keyset. */
export type MappedRow = Row;

export interface Quarantined {
  motivo: string;
  detalhe: string | null;
  at: string | null;
}

export interface RowPlan {
  /** The rows that can go now, in order (a row waiting for its parent ends the list before it). */
  batch: MappedRow[];
  /** Rows of `batch` already refused: by their own reason or a parent in quarantine. */
  quarantine: Map<string, Quarantined>;
  /** Rows after `batch` (from the first waiting for a parent that has not arrived). */
  waiting: MappedRow[];
}

/**
 * Rows whose own reason or parent refuses them, and where the rows stop because a parent has not
 * arrived yet. Inside the caller's transaction (as the owner, after SYSTEM_SQL).
 */
export async function planRows(target: SqlClient, t: MigratedTable, rows: MappedRow[]): Promise<RowPlan> {
  const quarantine = new Map<string, Quarantined>();
  for (const r of rows)
    if (r._motivo) quarantine.set(r.id, { motivo: r._motivo, detalhe: null, at: r._updated_at });
  let cut = rows.length;
  if (t.parents.length) {
    const parentsOf = await missingParents(
      target,
      t,
      rows.filter((r) => !quarantine.has(r.id)),
    );
    for (const [i, r] of rows.entries()) {
      const p = parentsOf.get(r.id);
      if (!p) continue;
      if (p.quarantined)
        quarantine.set(r.id, { motivo: "pai_em_quarentena", detalhe: p.table, at: r._updated_at });
      else {
        cut = i;
        break;
      }
    }
  }
  const batch = rows.slice(0, cut);
  for (const id of [...quarantine.keys()]) if (!batch.some((r) => r.id === id)) quarantine.delete(id);
  return { batch, quarantine, waiting: rows.slice(cut) };
}

/**
 * Applies a planned batch inside the caller's transaction: the conflict checks, one multi-row
 * upsert (halved under savepoints only if the target still refuses), the quarantine written and
 * cleared. Returns the ids applied and everything quarantined.
 */
export async function applyRows(
  target: SqlClient,
  t: MigratedTable,
  plan: RowPlan,
): Promise<{ appliedIds: string[]; quarantine: Map<string, Quarantined> }> {
  const { batch } = plan;
  const quarantine = new Map(plan.quarantine);
  let candidates = batch.filter((r) => !quarantine.has(r.id));
  for (const c of await conflicts(target, t, candidates))
    quarantine.set(c.id, { motivo: c.motivo, detalhe: c.constraint, at: rowAt(batch, c.id) });
  candidates = candidates.filter((r) => !quarantine.has(r.id));
  const refused = await applyIsolating(target, t, candidates);
  for (const r of refused)
    quarantine.set(r.id, { motivo: "recusada_pelo_destino", detalhe: r.detalhe, at: rowAt(batch, r.id) });
  const appliedIds = candidates.filter((r) => !quarantine.has(r.id)).map((r) => r.id);
  if (quarantine.size)
    await writeQuarantine(
      target,
      t.name,
      [...quarantine].map(([id, q]) => ({ id, ...q })),
    );
  if (appliedIds.length) {
    // A row that applies now is no longer in quarantine (its source was corrected).
    await target.query(`DELETE FROM migration.quarentena WHERE tabela = $1 AND id = ANY($2::uuid[])`, [
      t.name,
      appliedIds,
    ]);
  }
  return { appliedIds, quarantine };
}

/** Puts rows in quarantine (or updates why they are there): ids and reasons, never values. */
export async function writeQuarantine(
  target: SqlClient,
  table: string,
  entries: ({ id: string } & Quarantined)[],
): Promise<void> {
  await target.query(
    `INSERT INTO migration.quarentena AS q (tabela, id, motivo, detalhe, origem_updated_at)
     SELECT $1, x.id, x.motivo, x.detalhe, x.at
       FROM json_to_recordset($2::json) AS x(id uuid, motivo text, detalhe text, at timestamptz)
     ON CONFLICT (tabela, id) DO UPDATE
       SET motivo = excluded.motivo, detalhe = excluded.detalhe,
           origem_updated_at = excluded.origem_updated_at, registrado_em = now()`,
    [table, JSON.stringify(entries)],
  );
}

function rowAt(rows: Row[], id: string): string | null {
  return rows.find((r) => r.id === id)?._updated_at ?? null;
}

/** Records (and returns) how far the watermark is behind the source's horizon, in seconds. */
async function recordLag(
  target: SqlClient,
  table: string,
  wm: { at: string } | null,
  horizon: string,
): Promise<number | null> {
  const { rows } = await target.query(
    `UPDATE migration.tabelas
        SET lag_segundos = CASE WHEN $2::timestamptz IS NULL THEN NULL
                                ELSE greatest(0, extract(epoch FROM ($3::timestamptz - $2::timestamptz)))::float8 END,
            ultima_execucao = now()
      WHERE tabela = $1
      RETURNING lag_segundos`,
    [table, wm?.at ?? null, horizon],
  );
  return (rows[0]?.lag_segundos as number | null) ?? null;
}

/** The batch as a relation `i` (its order in `ord`), from one JSON parameter. */
function inputRelation(t: MigratedTable, param = "$1"): string {
  return `SELECT x.*, x.ordinality AS ord FROM json_populate_recordset(NULL::public.${t.name}, ${param}::json) WITH ORDINALITY AS x`;
}

function payload(t: MigratedTable, rows: Row[]): string {
  return JSON.stringify(rows.map((r) => Object.fromEntries(t.columns.map((c) => [c, r[c] ?? null]))));
}

async function missingParents(
  target: SqlClient,
  t: MigratedTable,
  rows: Row[],
): Promise<Map<string, { table: string; quarantined: boolean }>> {
  const out = new Map<string, { table: string; quarantined: boolean }>();
  if (!rows.length) return out;
  const parts = t.parents.map(
    (p) => `SELECT i.id::text AS id, '${p.table}' AS parent,
              EXISTS (SELECT 1 FROM migration.quarentena q WHERE q.tabela = '${p.table}' AND q.id = i.${p.column}) AS quarantined
         FROM i WHERE i.${p.column} IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM public.${p.table} p WHERE p.id = i.${p.column})`,
  );
  const { rows: found } = await target.query(`WITH i AS (${inputRelation(t)}) ${parts.join(" UNION ALL ")}`, [
    payload(t, rows),
  ]);
  for (const f of found) {
    const prev = out.get(f.id as string);
    // A parent in quarantine decides (the row can never apply); otherwise it waits.
    if (!prev || f.quarantined)
      out.set(f.id as string, { table: f.parent as string, quarantined: Boolean(f.quarantined) });
  }
  return out;
}

async function conflicts(
  target: SqlClient,
  t: MigratedTable,
  rows: Row[],
): Promise<{ id: string; motivo: string; constraint: string }[]> {
  if (!rows.length || !t.checks.length) return [];
  const parts = t.checks.flatMap((c) =>
    c.sql.map(
      (predicate) =>
        `SELECT i.id::text AS id, '${c.motivo}' AS motivo, '${c.constraint}' AS constraint_name FROM i_all i WHERE ${predicate}`,
    ),
  );
  const { rows: found } = await target.query(
    `WITH i_all AS (${inputRelation(t)}) ${parts.join(" UNION ALL ")}`,
    [payload(t, rows)],
  );
  const seen = new Set<string>();
  const out: { id: string; motivo: string; constraint: string }[] = [];
  for (const f of found) {
    if (seen.has(f.id as string)) continue;
    seen.add(f.id as string);
    out.push({ id: f.id as string, motivo: f.motivo as string, constraint: f.constraint_name as string });
  }
  return out;
}

/** The multi-row upsert of `rows` (one statement; consultas that moved month first leave their old partition). */
async function upsert(target: SqlClient, t: MigratedTable, rows: Row[]): Promise<void> {
  const json = payload(t, rows);
  if (t.name === "consultas") {
    await target.query(
      `DELETE FROM public.consultas c USING (${inputRelation(t)}) i
        WHERE c.id = i.id AND c.data_consulta <> i.data_consulta`,
      [json],
    );
  }
  const cols = t.columns.join(", ");
  const updatable = t.columns.filter((c) => !t.conflictKey.includes(c));
  const onConflict =
    t.mode === "insert-only"
      ? "DO NOTHING"
      : `DO UPDATE SET ${updatable.map((c) => `${c} = excluded.${c}`).join(", ")}
           WHERE (${updatable.map((c) => `t.${c}`).join(", ")}) IS DISTINCT FROM (${updatable.map((c) => `excluded.${c}`).join(", ")})`;
  await target.query(
    `INSERT INTO public.${t.name} AS t (${cols})
     SELECT ${cols} FROM (${inputRelation(t)}) i ORDER BY i.ord
     ON CONFLICT (${t.conflictKey.join(", ")}) ${onConflict}`,
    [json],
  );
}

const CONSTRAINT_ERROR = /^23/;

/**
 * Applies `rows`; if the target refuses the statement with a constraint error, halves the batch
 * under savepoints until the refused rows are alone, and returns those (with the constraint).
 */
async function applyIsolating(
  target: SqlClient,
  t: MigratedTable,
  rows: Row[],
): Promise<{ id: string; detalhe: string }[]> {
  if (!rows.length) return [];
  await target.query("SAVEPOINT sync_lote");
  try {
    await upsert(target, t, rows);
    await target.query("RELEASE SAVEPOINT sync_lote");
    return [];
  } catch (err) {
    await target.query("ROLLBACK TO SAVEPOINT sync_lote");
    await target.query("RELEASE SAVEPOINT sync_lote");
    const e = err as { code?: string; constraint?: string };
    if (!e.code || !CONSTRAINT_ERROR.test(e.code)) throw err;
    if (rows.length === 1) return [{ id: rows[0]!.id, detalhe: e.constraint ?? e.code }];
    const half = Math.ceil(rows.length / 2);
    return [
      ...(await applyIsolating(target, t, rows.slice(0, half))),
      ...(await applyIsolating(target, t, rows.slice(half))),
    ];
  }
}
