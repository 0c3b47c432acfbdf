/**
 * The cut-over: stop writes on the legacy source, drain what is left (the sync's last batches, the
 * CDC slot up to the source's final WAL position), verify every table, and say go or no-go.
 *
 * Stopping writes: `ALTER DATABASE <legacy> SET default_transaction_read_only = on`, then the
 * database's other client sessions are ended so that every new one starts read-only, and the
 * final WAL position is read once no transaction holds an xid any more. A session that turns
 * read-only off for itself could still write: the drain then sees its changes (CDC) and the
 * verification compares the final state, so such a write shows up as a no-go, not as a loss.
 * `reopenSource` undoes the read-only default (a no-go, or a rehearsal).
 */
import { cdcBatch, DEFAULT_CDC_SLOT } from "./cdc";
import { type SqlClient, syncToHorizon } from "./sync";
import { MIGRATED_TABLES } from "./tables";
import { type TableVerification, verifyTable } from "./verify";

export interface CutoverOptions {
  slot?: string;
  /** How long to wait for the source's writers to finish after the read-only switch, default 30 s. */
  drainTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface CutoverReport {
  go: boolean;
  /** The source's WAL position once writes stopped: the CDC drained at least this far. */
  finalLsn: string;
  terminatedSessions: number;
  tables: TableVerification[];
  quarantine: { tabela: string; motivo: string; n: number }[];
  /** Why not, when no-go. */
  reasons: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Makes the source database read-only by default and ends its other client sessions. */
export async function stopSourceWrites(source: SqlClient, opts: { drainTimeoutMs?: number } = {}) {
  const { rows } = await source.query("SELECT current_database() AS db");
  const db = rows[0]!.db as string;
  await source.query(`ALTER DATABASE ${quoteIdent(db)} SET default_transaction_read_only = on`);
  const { rows: ended } = await source.query(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
  );
  // Writers cut off mid-transaction roll back; wait until no transaction of this database holds an xid.
  const deadline = Date.now() + (opts.drainTimeoutMs ?? 30_000);
  for (;;) {
    const { rows: busy } = await source.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL`,
    );
    if ((busy[0]!.n as number) === 0) break;
    if (Date.now() > deadline)
      throw new Error("the source still has writing transactions after the drain timeout");
    await sleep(100);
  }
  const { rows: lsn } = await source.query("SELECT pg_current_wal_lsn()::text AS lsn");
  return { database: db, terminatedSessions: ended[0]!.n as number, finalLsn: lsn[0]!.lsn as string };
}

/** Undoes stopSourceWrites (new sessions may write again). */
export async function reopenSource(source: SqlClient): Promise<void> {
  const { rows } = await source.query("SELECT current_database() AS db");
  await source.query(
    `ALTER DATABASE ${quoteIdent(rows[0]!.db as string)} RESET default_transaction_read_only`,
  );
}

/**
 * Runs the cut-over. `source` must be the database's owner or a superuser (ALTER DATABASE,
 * pg_terminate_backend) with REPLICATION (the slot); `target` the owner's interactive connection.
 */
export async function cutover(
  source: SqlClient,
  target: SqlClient,
  opts: CutoverOptions = {},
): Promise<CutoverReport> {
  const log = opts.log ?? (() => {});
  const slot = opts.slot ?? DEFAULT_CDC_SLOT;
  const stopped = await stopSourceWrites(source, opts);
  log(
    `source read-only; ${stopped.terminatedSessions} sessions ended; final WAL position ${stopped.finalLsn}`,
  );
  // ALTER DATABASE ... SET reaches new sessions only: this one goes on draining as it was.

  // The sync's last batches: with no writer left, its horizon passes every row within a second.
  await sleep(1100);
  for (const table of MIGRATED_TABLES) {
    for (let i = 0; ; i++) {
      // moved: a scheduled run got there first; go again from where it left the watermark.
      const r = await syncToHorizon(source, target, table, { horizonMarginMs: 0 });
      if (r.outcome === "caught-up") break;
      if (r.outcome === "waiting" && i > 1000) throw new Error(`${table}: rows still wait for a parent`);
    }
  }
  log("sync caught up");
  // CDC up to the final WAL position.
  for (let i = 0; ; i++) {
    const r = await cdcBatch(source, target, { slot });
    const { rows } = await source.query(
      "SELECT confirmed_flush_lsn >= $2::pg_lsn AS drained FROM pg_replication_slots WHERE slot_name = $1",
      [slot, stopped.finalLsn],
    );
    if (r.outcome === "caught-up" && rows[0]?.drained) break;
    if (r.outcome === "caught-up" && i > 50) {
      // Nothing left to decode but the slot's position lags the final LSN (WAL without changes of
      // ours): advance it there, so the drain is provable.
      await source.query("SELECT pg_replication_slot_advance($1, $2::pg_lsn)", [slot, stopped.finalLsn]);
    }
    if (i > 10_000) throw new Error("CDC did not drain");
  }
  log("CDC drained");

  const tables: TableVerification[] = [];
  for (const table of MIGRATED_TABLES) tables.push(await verifyTable(source, target, table));
  await target.query("BEGIN");
  let quarantine: { tabela: string; motivo: string; n: number }[];
  try {
    const { rows } = await target.query(
      "SELECT tabela, motivo, count(*)::int AS n FROM migration.quarentena GROUP BY 1, 2 ORDER BY 1, 2",
    );
    quarantine = rows as typeof quarantine;
    await target.query("COMMIT");
  } catch (err) {
    await target.query("ROLLBACK").catch(() => {});
    throw err;
  }
  const reasons = tables
    .filter((t) => !t.ok)
    .map(
      (t) =>
        `${t.table}: source ${t.source.count} rows / ${t.source.checksum}, target ${t.target.count} / ${t.target.checksum}`,
    );
  return {
    go: reasons.length === 0,
    finalLsn: stopped.finalLsn,
    terminatedSessions: stopped.terminatedSessions,
    tables,
    quarantine,
    reasons,
  };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
