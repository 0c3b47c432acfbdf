/**
 * CDC: the legacy source's changes, read from a logical replication slot, applied to the target
 * in commit order, each source transaction once. This is what carries deletes (the sync's keyset
 * over updated_at cannot see a row that is gone) and keeps the target close behind the source
 * until the cut-over.
 *
 * How (see db/migration/README.md for the sync it complements):
 *
 * 1. The slot uses the built-in `pgoutput` plugin with the publication `fisioflow_migracao` over
 *    the six legacy tables (`ensureCdc` creates both if missing; it never drops or recreates a
 *    slot: that would lose the changes it holds). The worker reads it with plain SQL over `pg`:
 *    `pg_logical_slot_peek_binary_changes(slot, NULL, max_changes, 'proto_version', '1',
 *    'publication_names', ...)`, one pgoutput message per row, decoded by pgoutput.ts. A peek
 *    never consumes: the slot moves only when we advance it.
 * 2. The messages are grouped into committed transactions (the SQL interface only ever returns
 *    whole ones), in commit order. Each transaction whose end LSN is above
 *    `migration.cdc.applied_lsn` is applied in ONE target transaction, which also moves
 *    `applied_lsn` by compare-and-set from the value this run read: a concurrent run or a
 *    duplicate delivery finds 0 rows (the row lock makes it wait for the first, then fail the
 *    check) and stops. So the target, not the slot, says what has been applied.
 * 3. Only after the target commits is the slot advanced (`pg_replication_slot_advance`) to the
 *    end LSN of the last transaction applied (or found already applied). A crash between the two,
 *    or a source that restarts and forgets an advance it had not checkpointed, only means the next
 *    peek returns those transactions again, and step 2 skips them. Nothing is lost (the slot
 *    still holds what was not applied), nothing applied twice. The advance happens once per batch,
 *    after the last commit, not after each transaction: every advance decodes the WAL again from
 *    the slot's restart point, and correctness does not depend on it (step 2 does).
 *
 * "The LSN" of a transaction here, in `applied_lsn` and for the slot, is pgoutput's Commit "end
 * LSN" (just after the commit record), not its "commit LSN" (the record's start): a slot advanced
 * to the commit record's start decodes that transaction again (PostgreSQL 15, checked). The order
 * is the same, so `applied_lsn` still compares with commit order.
 *
 * Inside a target transaction the rows are mapped IN THE TARGET with the sync's own SQL
 * (tables.ts `mappedFromJson` over the new tuples as JSON keyed by legacy column names, values
 * as the source printed them: ISO dates in UTC, set for the peek) and go through the sync's
 * `planRows` + `applyRows` (same quarantine and conflict rules). Per table the last change of
 * each row wins (a row updated twice in one transaction is applied once, at its final value).
 * Upserts go parents first (MIGRATED_TABLES order), deletes children first; a delete the
 * target refuses because a child still points at the row (the source transaction moved the
 * child to another parent, applied by the upserts) is tried again after the upserts, and
 * quarantined (`apagado_na_origem_com_dependentes`) if still refused. A prontuario deleted in
 * the source cannot be deleted in the target (append-only): it is quarantined
 * (`prontuario_apagado_na_origem`) instead. A delete removes the row's quarantine entry.
 *
 * The sync may have applied a newer version of a row before CDC replays an older one: upserts
 * whose (updated_at, id) is at or below the table's sync watermark are skipped (the sync already
 * applied a version at least that new). The watermark rows are locked (FOR NO KEY UPDATE) for
 * the transaction, so a sync batch cannot move the watermark between our read and our writes.
 * Deletes always apply. When a row's parent is in neither the target nor this transaction (it
 * predates the slot and the sync has not copied it yet), the transaction is rolled back and the
 * batch stops before it (`waiting`): the next run tries again.
 *
 * A TRUNCATE of a legacy table cannot be replayed safely (the target keeps rows the source never
 * had, prontuarios are append-only): the batch applies what comes before it, advances the slot to
 * just before it and throws `CdcTruncateError`, and a person decides (reload the table, then
 * advance the slot past it by hand).
 *
 * Source requirements: `wal_level = logical` (a restart); a role with the REPLICATION attribute
 * (or superuser) for the slot functions; ownership of the six tables to create the publication
 * (or create it beforehand as their owner: `ensureCdc` only adds what is missing). The slot keeps
 * WAL on the source until it is advanced: drop it after the cut-over
 * (`SELECT pg_drop_replication_slot('fisioflow_migracao')`), and watch `migration.cdc.lag_bytes`.
 * One source transaction is held in memory and applied in one target transaction however large
 * it is (`max_changes` is only checked between transactions).
 */
import { SYSTEM_SQL } from "../session";
import {
  assembleTransactions,
  type Cell,
  compareLsn,
  decodePgoutput,
  type RelationMessage,
  type SourceTransaction,
  tupleToRecord,
  UNCHANGED,
} from "./pgoutput";
import {
  applyRows,
  type MappedRow,
  planRows,
  type Quarantined,
  type SqlClient,
  writeQuarantine,
} from "./sync";
import { isMigratedTable, MIGRATED_TABLES, type MigratedTableName, mappedFromJson, TABLES } from "./tables";

export const CDC_PUBLICATION = "fisioflow_migracao";
export const DEFAULT_CDC_SLOT = "fisioflow_migracao";
export const DEFAULT_MAX_CHANGES = 5000;

/** Slot and publication names: PostgreSQL allows [a-z0-9_] in slot names; we ask the same of both. */
const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The values of a legacy row as the source printed them, keyed by legacy column name. */
type LegacyRecord = Record<string, string | null>;

/** A source transaction truncated a legacy table: CDC cannot go on by itself. */
export class CdcTruncateError extends Error {
  override name = "CdcTruncateError";
  constructor(
    readonly tables: string[],
    readonly xid: number,
    readonly endLsn: string,
  ) {
    super(
      `source transaction ${xid} (ending at ${endLsn}) truncated ${tables.join(", ")}: CDC cannot replay a TRUNCATE; ` +
        "reload the table(s), then advance the slot past this transaction by hand",
    );
  }
}

// ------------------------------------------------------------------------------------------------
// Setup

export interface EnsureCdcOptions {
  slot?: string;
  publication?: string;
}

export interface EnsureCdcResult {
  createdPublication: boolean;
  /** Legacy tables added to an existing publication that lacked them. */
  addedTables: string[];
  createdSlot: boolean;
}

function checkName(kind: string, name: string) {
  if (!NAME.test(name)) throw new Error(`${kind} name must match ${NAME}, got ${JSON.stringify(name)}`);
}

function sqlState(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

/**
 * Creates, if missing, the publication over the six legacy tables (adding any it lacks) and
 * then the pgoutput slot. Never drops or recreates an existing slot. The publication comes
 * first: pgoutput looks it up as of each change it decodes. Creating a slot waits for the
 * source's running transactions to end (it needs a consistent starting point). Safe to run
 * concurrently (a lost creation race is taken as done).
 */
export async function ensureCdc(source: SqlClient, opts: EnsureCdcOptions = {}): Promise<EnsureCdcResult> {
  const slot = opts.slot ?? DEFAULT_CDC_SLOT;
  const publication = opts.publication ?? CDC_PUBLICATION;
  checkName("slot", slot);
  checkName("publication", publication);
  const out: EnsureCdcResult = { createdPublication: false, addedTables: [], createdSlot: false };

  const { rows: pub } = await source.query(
    `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AS exists,
            coalesce((SELECT array_agg(tablename::text) FROM pg_publication_tables
                       WHERE pubname = $1 AND schemaname = 'public'), '{}') AS tables`,
    [publication],
  );
  const tableList = MIGRATED_TABLES.map((t) => `public.${t}`).join(", ");
  if (!pub[0]!.exists) {
    try {
      await source.query(`CREATE PUBLICATION "${publication}" FOR TABLE ${tableList}`);
      out.createdPublication = true;
    } catch (err) {
      if (sqlState(err) !== "42710") throw err; // duplicate_object: another run created it
    }
  } else {
    const has = new Set(pub[0]!.tables as string[]);
    for (const t of MIGRATED_TABLES) {
      if (has.has(t)) continue;
      try {
        await source.query(`ALTER PUBLICATION "${publication}" ADD TABLE public.${t}`);
        out.addedTables.push(t);
      } catch (err) {
        if (sqlState(err) !== "42710") throw err;
      }
    }
  }

  const { rows: slots } = await source.query(
    `SELECT plugin::text AS plugin, slot_type, database::text AS database, current_database()::text AS here
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const existing = slots[0];
  if (existing) {
    // Someone else's slot of the same name: refuse rather than read (or advance) it.
    if (
      existing.slot_type !== "logical" ||
      existing.plugin !== "pgoutput" ||
      existing.database !== existing.here
    )
      throw new Error(
        `replication slot ${slot} exists but is not a pgoutput slot of this database ` +
          `(${existing.slot_type}, ${existing.plugin}, ${existing.database})`,
      );
    return out;
  }
  const { rows: level } = await source.query("SELECT current_setting('wal_level') AS wal_level");
  if (level[0]!.wal_level !== "logical")
    throw new Error(
      `the source's wal_level is ${level[0]!.wal_level}: CDC needs wal_level = logical (a server restart)`,
    );
  try {
    await source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    out.createdSlot = true;
  } catch (err) {
    if (sqlState(err) !== "42710") throw err;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// One batch

export interface CdcTransactionInfo {
  xid: number;
  endLsn: string;
  commitTime: Date;
}

export interface CdcOptions {
  slot?: string;
  publication?: string;
  /** Messages per peek, default 5000; whole transactions always (checked between commits). */
  maxChanges?: number;
  /** Called before a transaction's target transaction begins (tests line up concurrent runs here). */
  beforeTransaction?: (tx: CdcTransactionInfo) => Promise<void>;
  /** Called after a transaction's target commit, before anything else (tests simulate a crash
   * between the target's commit and the slot's advance by throwing here). */
  afterTargetCommit?: (tx: CdcTransactionInfo) => Promise<void>;
}

export interface CdcBatchResult {
  /** applied: transactions went in; caught-up: nothing new in the slot; moved: another run
   * applied the next transaction first (this one stopped); waiting: a row's parent has not
   * arrived in the target yet (the batch stopped before its transaction). */
  outcome: "applied" | "caught-up" | "moved" | "waiting";
  /** Source transactions applied by this run. */
  transactions: number;
  /** Row changes (insert/update/delete messages) in them. */
  changes: number;
  /** Rows written: upserts applied plus deletes done. */
  applied: number;
  /** Rows put in (or kept in) quarantine. */
  quarantined: number;
  /** Transactions the slot returned that the target had already applied (a crash or a source
   * restart before the slot's advance, or a concurrent run). */
  skippedAlreadyApplied: number;
  /** Row versions not applied because the sync had already applied one at least as new. */
  skippedBySync: number;
  /** Whether the slot may hold more right now (run again at once). */
  more: boolean;
  /** WAL the slot still holds (source's current LSN − the slot's confirmed position). */
  lagBytes: number | null;
  /** Age of the oldest source transaction not yet applied; 0 when none. */
  lagSeconds: number;
  /** migration.cdc.applied_lsn after the batch. */
  appliedLsn: string | null;
  /** The slot's confirmed position after the batch. */
  slotLsn: string | null;
}

/** Formats for the values the source prints into the change stream (and for the re-reads). */
const SOURCE_FORMAT = `SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
  set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '3', true)`;

/** A slot is acquired for the length of a peek or advance; another session then gets 55006. */
const SLOT_BUSY = "55006";
const SLOT_BUSY_RETRIES = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reads up to `maxChanges` messages from the slot, applies each committed source transaction
 * not yet applied in one target transaction, then advances the slot. `target` must be an
 * interactive connection as the owner; `source` a connection to the legacy database whose role
 * has REPLICATION.
 */
export async function cdcBatch(
  source: SqlClient,
  target: SqlClient,
  opts: CdcOptions = {},
): Promise<CdcBatchResult> {
  const slot = opts.slot ?? DEFAULT_CDC_SLOT;
  const publication = opts.publication ?? CDC_PUBLICATION;
  checkName("slot", slot);
  checkName("publication", publication);
  const maxChanges = opts.maxChanges ?? DEFAULT_MAX_CHANGES;
  if (!Number.isInteger(maxChanges) || maxChanges < 1 || maxChanges > 1_000_000)
    throw new Error(`max changes must be an integer from 1 to 1000000, got ${maxChanges}`);

  let expected = await readAppliedLsn(target, slot);
  const rows = await peek(source, slot, publication, maxChanges);
  const { transactions, incomplete } = assembleTransactions(rows.map((r) => decodePgoutput(r.data)));

  const result: CdcBatchResult = {
    outcome: "caught-up",
    transactions: 0,
    changes: 0,
    applied: 0,
    quarantined: 0,
    skippedAlreadyApplied: 0,
    skippedBySync: 0,
    more: false,
    lagBytes: null,
    lagSeconds: 0,
    appliedLsn: expected,
    slotLsn: null,
  };
  /** Where the slot may go: the end of the last transaction applied or found applied. */
  let advanceTo: string | null = null;
  /** The first transaction this run leaves unapplied (for the lag). */
  let stoppedAt: SourceTransaction | null = null;

  for (const tx of transactions) {
    if (expected && compareLsn(tx.endLsn, expected) <= 0) {
      result.skippedAlreadyApplied++;
      advanceTo = tx.endLsn;
      continue;
    }
    if (tx.truncated.length) {
      if (advanceTo) await advanceSlot(source, slot, advanceTo);
      throw new CdcTruncateError(tx.truncated, tx.xid, tx.endLsn);
    }
    const ops = await prepareTransaction(source, tx);
    if (!ops.size) {
      // Nothing of ours in it (the publication only has our tables, so this is defensive).
      advanceTo = tx.endLsn;
      continue;
    }
    const info: CdcTransactionInfo = { xid: tx.xid, endLsn: tx.endLsn, commitTime: tx.commitTime };
    await opts.beforeTransaction?.(info);
    const r = await applyTransaction(target, slot, tx, ops, expected);
    if (r.outcome !== "applied") {
      result.outcome = r.outcome;
      stoppedAt = tx;
      break;
    }
    expected = tx.endLsn;
    result.outcome = "applied";
    result.transactions++;
    result.changes += r.changes;
    result.applied += r.applied;
    result.quarantined += r.quarantined;
    result.skippedBySync += r.skippedBySync;
    await opts.afterTargetCommit?.(info);
    advanceTo = tx.endLsn;
  }

  if (advanceTo) await advanceSlot(source, slot, advanceTo);
  // More may wait in the slot when the peek was cut at max_changes (or, defensively, ended in the
  // middle of a transaction), unless this run stopped for a reason a rerun at once cannot fix.
  result.more = !stoppedAt && (rows.length >= maxChanges || incomplete);

  const { rows: lag } = await source.query(
    `SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::float8 AS lag_bytes,
            confirmed_flush_lsn::text AS slot_lsn,
            (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  result.lagBytes = (lag[0]?.lag_bytes as number | null) ?? null;
  result.slotLsn = (lag[0]?.slot_lsn as string | null) ?? null;
  // The oldest transaction not applied: the one we stopped before; or, when the peek was full,
  // at most as old as the last one seen (the next commits after it); else none.
  const pending = stoppedAt?.commitTime ?? (result.more ? transactions.at(-1)?.commitTime : undefined);
  const nowMs = (lag[0]?.now_ms as number | undefined) ?? Date.now();
  result.lagSeconds = pending ? Math.max(0, (nowMs - pending.getTime()) / 1000) : 0;

  if (result.outcome === "moved") {
    // The run that got there first records the state; leave its numbers alone.
    result.appliedLsn = await readAppliedLsn(target, slot);
  } else {
    const { rows: state } = await target.query(
      `UPDATE migration.cdc SET lag_bytes = $2, lag_segundos = $3, ultima_execucao = now()
        WHERE slot = $1 RETURNING applied_lsn::text AS applied_lsn`,
      [slot, result.lagBytes === null ? null : Math.round(result.lagBytes), result.lagSeconds],
    );
    result.appliedLsn = (state[0]?.applied_lsn as string | null) ?? null;
  }
  return result;
}

async function readAppliedLsn(target: SqlClient, slot: string): Promise<string | null> {
  await target.query("INSERT INTO migration.cdc (slot) VALUES ($1) ON CONFLICT (slot) DO NOTHING", [slot]);
  const { rows } = await target.query("SELECT applied_lsn::text AS lsn FROM migration.cdc WHERE slot = $1", [
    slot,
  ]);
  return (rows[0]?.lsn as string | null) ?? null;
}

/** Retries while another session holds the slot (a concurrent run's peek or advance). */
async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (sqlState(err) !== SLOT_BUSY || attempt >= SLOT_BUSY_RETRIES) throw err;
      await sleep(Math.min(1000, 25 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
    }
  }
}

async function peek(
  source: SqlClient,
  slot: string,
  publication: string,
  maxChanges: number,
): Promise<{ lsn: string; data: Uint8Array }[]> {
  return withSlot(async () => {
    // SET LOCAL in a transaction: the values are printed with these settings, and a pooled
    // connection (Hyperdrive) must not keep them.
    await source.query("BEGIN");
    try {
      await source.query(SOURCE_FORMAT);
      const { rows } = await source.query(
        `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1, NULL, $2::int,
           'proto_version', '1', 'publication_names', $3)`,
        [slot, maxChanges, publication],
      );
      await source.query("COMMIT");
      return rows.map((r) => {
        if (!(r.data instanceof Uint8Array)) throw new Error("the source returned the change data as text");
        return { lsn: r.lsn as string, data: r.data };
      });
    } catch (err) {
      await source.query("ROLLBACK").catch(() => {});
      throw err;
    }
  });
}

/**
 * Moves the slot's confirmed position forward to `lsn`. Never backwards: if another run already
 * took it further, there is nothing to do (PostgreSQL refuses to go back, 55000).
 */
async function advanceSlot(source: SqlClient, slot: string, lsn: string): Promise<void> {
  await withSlot(async () => {
    try {
      await source.query(
        `SELECT pg_replication_slot_advance(slot_name, $2::pg_lsn) FROM pg_replication_slots
          WHERE slot_name = $1 AND confirmed_flush_lsn < $2::pg_lsn`,
        [slot, lsn],
      );
    } catch (err) {
      if (sqlState(err) !== "55000") throw err;
      const { rows } = await source.query(
        "SELECT confirmed_flush_lsn >= $2::pg_lsn AS past FROM pg_replication_slots WHERE slot_name = $1",
        [slot, lsn],
      );
      if (!rows[0]?.past) throw err;
    }
  });
}

// ------------------------------------------------------------------------------------------------
// A source transaction → the final operation per row, per table

interface TableOps {
  /** The last version of each row written, in the order of their last write. */
  upserts: Map<string, Record<string, Cell>>;
  /** Rows whose last change is a delete. */
  deletes: Set<string>;
  /** insert/update/delete messages for this table. */
  changes: number;
}

function ourTable(rel: RelationMessage): MigratedTableName | null {
  return rel.namespace === "public" && isMigratedTable(rel.name) ? rel.name : null;
}

const known = (v: Cell | undefined): v is string | null => v !== undefined && v !== UNCHANGED;

/**
 * The final operation of each row in `tx`, per table, with every value known: a TOASTed column
 * an UPDATE left unchanged (not sent) is taken from an earlier version in this transaction, from
 * the old row when identity is FULL, or else re-read from the source's current row (a row gone
 * from the source by now is dropped: its delete is later in the stream).
 */
async function prepareTransaction(
  source: SqlClient,
  tx: SourceTransaction,
): Promise<Map<MigratedTableName, TableOps>> {
  const byTable = new Map<MigratedTableName, TableOps>();
  for (const c of tx.changes) {
    const table = ourTable(c.relation);
    if (!table) continue;
    let ops = byTable.get(table);
    if (!ops) {
      ops = { upserts: new Map(), deletes: new Set(), changes: 0 };
      byTable.set(table, ops);
    }
    ops.changes++;
    const old = c.oldTuple ? tupleToRecord(c.relation, c.oldTuple) : null;
    const oldId = typeof old?.id === "string" ? old.id : null;
    if (c.op === "delete") {
      if (!oldId) throw new Error(`delete in ${table} without the row's id (replica identity)`);
      ops.upserts.delete(oldId);
      ops.deletes.add(oldId);
      continue;
    }
    const rec = tupleToRecord(c.relation, c.newTuple!);
    const id = rec.id;
    if (typeof id !== "string") throw new Error(`${c.op} in ${table} without an id`);
    const previous = ops.upserts.get(id);
    const keyColumns = new Set(c.relation.columns.filter((k) => k.key).map((k) => k.name));
    const row: Record<string, Cell> = {};
    for (const [col, v] of Object.entries(rec)) {
      if (v !== UNCHANGED) row[col] = v;
      else if (known(previous?.[col])) row[col] = previous[col];
      // A key-only old tuple ('K') has NULL for every other column: only FULL identity counts.
      else if (old && (c.oldKind === "O" || keyColumns.has(col)) && known(old[col])) row[col] = old[col];
      else row[col] = UNCHANGED;
    }
    if (oldId && oldId !== id) {
      // The key itself changed: the old row is gone.
      ops.upserts.delete(oldId);
      ops.deletes.add(oldId);
    }
    ops.deletes.delete(id);
    ops.upserts.delete(id); // set again below: keeps the order of last writes
    ops.upserts.set(id, row);
  }

  for (const [table, ops] of byTable) {
    const partial = [...ops.upserts].filter(([, r]) => Object.values(r).some((v) => v === UNCHANGED));
    if (!partial.length) continue;
    const cols = [...new Set(partial.flatMap(([, r]) => Object.keys(r).filter((k) => r[k] === UNCHANGED)))];
    const current = await rereadSource(
      source,
      table,
      partial.map(([id]) => id),
      cols,
    );
    for (const [id, r] of partial) {
      const now = current.get(id);
      if (!now) {
        ops.upserts.delete(id);
        continue;
      }
      for (const col of Object.keys(r)) if (r[col] === UNCHANGED) r[col] = now[col] ?? null;
    }
  }
  return byTable;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function rereadSource(
  source: SqlClient,
  table: MigratedTableName,
  ids: string[],
  cols: string[],
): Promise<Map<string, LegacyRecord>> {
  await source.query("BEGIN");
  try {
    await source.query(SOURCE_FORMAT);
    const { rows } = await source.query(
      `SELECT s.id::text AS ${quoteIdent("id")}, ${cols.map((c) => `s.${quoteIdent(c)}::text AS ${quoteIdent(c)}`).join(", ")}
         FROM public.${table} s WHERE s.id = ANY($1::uuid[])`,
      [ids],
    );
    await source.query("COMMIT");
    return new Map(rows.map((r) => [r.id as string, r as LegacyRecord]));
  } catch (err) {
    await source.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

// ------------------------------------------------------------------------------------------------
// One source transaction → one target transaction

interface Applied {
  outcome: "applied" | "moved" | "waiting";
  changes: number;
  applied: number;
  quarantined: number;
  skippedBySync: number;
}

const CONSTRAINT_ERROR = /^23/;

async function applyTransaction(
  target: SqlClient,
  slot: string,
  tx: SourceTransaction,
  ops: Map<MigratedTableName, TableOps>,
  expected: string | null,
): Promise<Applied> {
  const tables = MIGRATED_TABLES.filter((t) => ops.has(t));
  const changes = tables.reduce((n, t) => n + ops.get(t)!.changes, 0);
  const out: Applied = { outcome: "applied", changes, applied: 0, quarantined: 0, skippedBySync: 0 };
  await target.query("BEGIN");
  try {
    await target.query(SYSTEM_SQL);
    const moved = await target.query(
      `UPDATE migration.cdc
          SET applied_lsn = $2::pg_lsn, transacoes = transacoes + 1, alteracoes = alteracoes + $3,
              ultima_execucao = now()
        WHERE slot = $1 AND applied_lsn IS NOT DISTINCT FROM $4::pg_lsn`,
      [slot, tx.endLsn, changes, expected],
    );
    if (!moved.rowCount) {
      await target.query("ROLLBACK");
      return { ...out, outcome: "moved" };
    }
    // The sync's watermarks, locked until COMMIT (in a fixed order): a sync batch cannot move
    // one between our read and our writes, or we could replay a version older than its own.
    await target.query(
      "INSERT INTO migration.tabelas (tabela) SELECT unnest($1::text[]) ON CONFLICT (tabela) DO NOTHING",
      [tables],
    );
    const { rows: marks } = await target.query(
      `SELECT tabela, watermark_at::text AS at, watermark_id::text AS id FROM migration.tabelas
        WHERE tabela = ANY($1::text[]) ORDER BY tabela FOR NO KEY UPDATE`,
      [tables],
    );
    const watermark = new Map(marks.map((m) => [m.tabela as string, m]));

    // Deletes, children first; those a child still holds wait until after the upserts.
    const deferred = new Map<MigratedTableName, string[]>();
    for (const t of [...tables].reverse()) {
      const ids = [...ops.get(t)!.deletes];
      if (!ids.length) continue;
      if (t === "prontuarios") {
        const r = await deleteProntuarios(target, ids);
        out.applied += r.deleted;
        out.quarantined += r.quarantined;
        continue;
      }
      const refused = await deleteAndClear(target, t, ids);
      out.applied += ids.length - refused.size;
      if (refused.size) deferred.set(t, [...refused.keys()]);
    }

    // Upserts, parents first, through the sync's planning and application.
    for (const t of tables) {
      const records = [...ops.get(t)!.upserts.values()] as LegacyRecord[];
      if (!records.length) continue;
      const w = watermark.get(t);
      const { rows: mapped } = await target.query(
        `SELECT coalesce(json_agg(x), '[]')::text AS rows FROM (
           SELECT m.*, ($2::timestamptz IS NOT NULL
                        AND (m._updated_at, m.id) <= ($2::timestamptz, $3::uuid)) AS _skip
             FROM (${mappedFromJson(TABLES[t])}) m) x`,
        [JSON.stringify(records), w?.at ?? null, w?.id ?? null],
      );
      const byId = new Map(
        (JSON.parse(mapped[0]!.rows as string) as (MappedRow & { _skip: boolean })[]).map((r) => [r.id, r]),
      );
      const rows: MappedRow[] = [];
      for (const rec of records) {
        const m = byId.get(rec.id as string);
        if (!m) throw new Error(`row ${rec.id} of ${t} lost in the mapping`);
        if (m._skip) {
          out.skippedBySync++;
          continue;
        }
        const { _skip, ...row } = m;
        rows.push(row as MappedRow);
      }
      if (!rows.length) continue;
      const plan = await planRows(target, TABLES[t], rows);
      if (plan.waiting.length) {
        await target.query("ROLLBACK");
        return { ...out, outcome: "waiting" };
      }
      const { appliedIds, quarantine } = await applyRows(target, TABLES[t], plan);
      out.applied += appliedIds.length;
      out.quarantined += quarantine.size;
    }

    // Deletes a child held: the upserts may have moved the child away.
    for (const t of [...deferred.keys()].reverse()) {
      const ids = deferred.get(t)!;
      const refused = await deleteAndClear(target, t, ids);
      out.applied += ids.length - refused.size;
      if (refused.size) {
        await quarantineIds(target, t, "apagado_na_origem_com_dependentes", refused);
        out.quarantined += refused.size;
      }
    }

    await target.query(
      `UPDATE migration.tabelas m
          SET fase = 'cdc', ultima_execucao = now(),
              linhas_quarentena = (SELECT count(*) FROM migration.quarentena q WHERE q.tabela = m.tabela)
        WHERE m.tabela = ANY($1::text[])`,
      [tables],
    );
    await target.query("COMMIT");
    return out;
  } catch (err) {
    await target.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

/** Deletes what the target lets go of `ids` and clears their quarantine; returns the refused. */
async function deleteAndClear(target: SqlClient, t: MigratedTableName, ids: string[]) {
  const refused = await deleteIsolating(target, t, ids);
  await clearQuarantine(
    target,
    t,
    ids.filter((id) => !refused.has(id)),
  );
  return refused;
}

/**
 * Deletes `ids` from `t`; if the target refuses (a constraint: a child still points at a row),
 * isolates the refused rows by halving under savepoints and returns them with the constraint.
 */
async function deleteIsolating(
  target: SqlClient,
  t: MigratedTableName,
  ids: string[],
): Promise<Map<string, string>> {
  if (!ids.length) return new Map();
  await target.query("SAVEPOINT cdc_delete");
  try {
    await target.query(`DELETE FROM public.${t} WHERE id = ANY($1::uuid[])`, [ids]);
    await target.query("RELEASE SAVEPOINT cdc_delete");
    return new Map();
  } catch (err) {
    await target.query("ROLLBACK TO SAVEPOINT cdc_delete");
    await target.query("RELEASE SAVEPOINT cdc_delete");
    const e = err as { code?: string; constraint?: string };
    if (!e.code || !CONSTRAINT_ERROR.test(e.code)) throw err;
    if (ids.length === 1) return new Map([[ids[0]!, e.constraint ?? e.code]]);
    const half = Math.ceil(ids.length / 2);
    return new Map([
      ...(await deleteIsolating(target, t, ids.slice(0, half))),
      ...(await deleteIsolating(target, t, ids.slice(half))),
    ]);
  }
}

/** Prontuarios are append-only in the target: those present are quarantined, not deleted. */
async function deleteProntuarios(
  target: SqlClient,
  ids: string[],
): Promise<{ deleted: number; quarantined: number }> {
  const { rows } = await target.query(
    "SELECT id::text AS id FROM public.prontuarios WHERE id = ANY($1::uuid[])",
    [ids],
  );
  const present = new Map(rows.map((r) => [r.id as string, "prontuarios_append_only"]));
  await quarantineIds(target, "prontuarios", "prontuario_apagado_na_origem", present);
  const absent = ids.filter((id) => !present.has(id));
  await clearQuarantine(target, "prontuarios", absent);
  return { deleted: absent.length, quarantined: present.size };
}

async function quarantineIds(
  target: SqlClient,
  t: MigratedTableName,
  motivo: string,
  ids: Map<string, string>,
): Promise<void> {
  if (!ids.size) return;
  const entries: (Quarantined & { id: string })[] = [...ids].map(([id, detalhe]) => ({
    id,
    motivo,
    detalhe,
    at: null,
  }));
  await writeQuarantine(target, t, entries);
}

/** A row gone from the source has nothing left to put aside. */
async function clearQuarantine(target: SqlClient, t: MigratedTableName, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await target.query("DELETE FROM migration.quarentena WHERE tabela = $1 AND id = ANY($2::uuid[])", [t, ids]);
}
