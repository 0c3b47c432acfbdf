/**
 * Partition upkeep for `consultas` (PARTITION BY RANGE (data_consulta), UTC months + DEFAULT).
 *
 * Creates the monthly partitions from `monthsBehind` before `now` to `monthsAhead` after it, plus
 * one for every month that has rows sitting in DEFAULT, and moves those rows into their month.
 * PostgreSQL refuses to create a partition while DEFAULT holds rows of its range, so each month
 * is one transaction: lock the parent and DEFAULT, copy DEFAULT's rows of that month out, delete
 * them, create the partition, insert them back (all through the parent). No DETACH, so readers
 * never see a hole. Idempotent: months that exist are skipped (catalog check under the lock).
 *
 * Locks: `CREATE TABLE ... PARTITION OF` needs ACCESS EXCLUSIVE on the parent and on DEFAULT. Both
 * are taken up front, parent first (the order every reader and writer uses), under
 * `lock_timeout`: taking a weaker lock on DEFAULT first and upgrading on the parent later
 * deadlocked with a transaction that had read `consultas` and then inserted. A month that cannot
 * get its locks in time fails with 55P03, a transient failure: the next run retries it.
 *
 * Months are independent: a month that fails is rolled back, logged and reported in `failed`, and
 * the others are still created.
 *
 * Needs an interactive transaction (WebSocket Pool client or pg client) as the owner. Run by
 * `db:migrate` at its end (so a new database has its months before the first consulta), by the
 * seed, and daily by the `partitions` job (jobs/partitions).
 */

import { isConnectionException, isRetryableSqlState, pgError } from "./errors";
import type { Queryable } from "./owner-client";
import { SYSTEM_SQL } from "./session";

export type { Queryable };

/** Months after the current one that `db:migrate`, the seed and the daily job keep ready. */
export const PARTITION_MONTHS_AHEAD = 3;

export interface EnsurePartitionsOptions {
  /** Months after the current one to create (default PARTITION_MONTHS_AHEAD). */
  monthsAhead?: number;
  /** Months before the current one to create (default 0; the seed uses 12). */
  monthsBehind?: number;
  now?: Date;
  /** How long one month waits for its table locks before it fails as transient (default 5000). */
  lockTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface PartitionFailure {
  /** The partition that was not created, e.g. `consultas_y2030m03`. */
  name: string;
  error: string;
  /** SQLSTATE, when the database raised it. */
  code?: string;
  /** A lock timeout, deadlock, serialization failure or lost connection: retry later. */
  transient: boolean;
}

export interface EnsurePartitionsReport {
  created: string[];
  moved: number;
  /** Months that could not be created this run (each rolled back on its own). */
  failed: PartitionFailure[];
  /** Exclusive upper bound (ISO, UTC) up to which every month has a partition. */
  coverageUntil: string;
}

const PARENT = "public.consultas";
const DEFAULT_PARTITION = "public.consultas_default";
const LOCK_KEY = 7_246_301_012;
/** consultas_data_consulta_check (0009): DEFAULT cannot hold a month outside these years. */
const MIN_YEAR = 2000;
const MAX_YEAR = 2199;

/** First instant of the UTC month of `d` shifted by `offset` months. */
export function monthStart(d: Date, offset = 0): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));
}

/**
 * The UTC month of a (year, month 1–12) pair as the database reports it for a DEFAULT row.
 * Integers, never a timestamp string: a `timestamp without time zone` parsed by the driver lands
 * in the process's local time zone (TZ=Europe/Berlin turned 2030-01 into 2029-12).
 */
export function monthFromParts(year: unknown, month: unknown): Date {
  const y = Number(year);
  const m = Number(month);
  if (!Number.isInteger(y) || !Number.isInteger(m) || m < 1 || m > 12) {
    throw new RangeError(`not a month: ${String(year)}-${String(month)}`);
  }
  return new Date(Date.UTC(y, m - 1, 1));
}

export function partitionName(month: Date): string {
  return `consultas_y${month.getUTCFullYear()}m${String(month.getUTCMonth() + 1).padStart(2, "0")}`;
}

function pgTimestamp(d: Date): string {
  const y = d.getUTCFullYear();
  if (y < MIN_YEAR || y > MAX_YEAR + 1) {
    throw new RangeError(`month ${y} is outside consultas_data_consulta_check`);
  }
  return `${y}-${String(d.getUTCMonth() + 1).padStart(2, "0")}-01 00:00:00+00`;
}

/** SQLSTATEs a later run can succeed on: the job is retried, not failed. */
export function isTransientPgCode(code: string | undefined): boolean {
  if (!code) return false;
  return (
    isRetryableSqlState(code) ||
    isConnectionException(code) ||
    code === "55P03" || // lock_not_available (lock_timeout)
    code === "57014" || // query_canceled (statement_timeout)
    code.startsWith("53") // insufficient resources
  );
}

function failureOf(name: string, err: unknown): PartitionFailure {
  const code = pgError(err)?.code;
  const message = String((err as Error | undefined)?.message ?? err);
  // No SQLSTATE: a network error of the driver (transient), or our own RangeError (not).
  const transient = code ? isTransientPgCode(code) : !(err instanceof RangeError);
  return { name, error: message, ...(code ? { code } : {}), transient };
}

export async function existingPartitions(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query(
    `SELECT c.relname FROM pg_catalog.pg_inherits i
       JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'public.consultas'::regclass`,
  );
  return new Set(rows.map((r) => String(r.relname)));
}

export async function ensurePartitions(
  db: Queryable,
  opts: EnsurePartitionsOptions = {},
): Promise<EnsurePartitionsReport> {
  const now = opts.now ?? new Date();
  const ahead = opts.monthsAhead ?? PARTITION_MONTHS_AHEAD;
  const behind = opts.monthsBehind ?? 0;
  const lockTimeoutMs = Math.max(1, Math.floor(opts.lockTimeoutMs ?? 5000));
  const log = opts.log ?? (() => {});
  const failed: PartitionFailure[] = [];

  const months = new Map<string, Date>();
  for (let i = -behind; i <= ahead; i++) {
    const m = monthStart(now, i);
    months.set(partitionName(m), m);
  }
  // Months with rows stuck in DEFAULT get a partition too, so DEFAULT ends up empty. Year and
  // month as integers of the UTC calendar: nothing for the driver to parse in a local time zone.
  const stuck = await db.query(
    `SELECT DISTINCT extract(year FROM data_consulta AT TIME ZONE 'UTC')::int AS y,
                     extract(month FROM data_consulta AT TIME ZONE 'UTC')::int AS m
       FROM ${DEFAULT_PARTITION}`,
  );
  for (const r of stuck.rows) {
    try {
      const m = monthFromParts(r.y, r.m);
      months.set(partitionName(m), m);
    } catch (err) {
      const name = `consultas_y${String(r.y)}m${String(r.m).padStart(2, "0")}`;
      failed.push(failureOf(name, err));
      log(`skipped ${name}: ${(err as Error).message}`);
    }
  }

  const created: string[] = [];
  let moved = 0;
  let existing = await existingPartitions(db);
  for (const [name, from] of [...months].sort(([a], [b]) => a.localeCompare(b))) {
    if (existing.has(name)) continue;
    let began = false;
    try {
      const to = monthStart(from, 1);
      // Literals we format ourselves (utility statements such as CREATE TABLE AS take no parameters).
      const lower = pgTimestamp(from);
      const upper = pgTimestamp(to);
      const range = `data_consulta >= '${lower}' AND data_consulta < '${upper}'`;
      await db.query("BEGIN");
      began = true;
      // Concurrent runs take turns (unbounded wait: the holder's own lock waits are bounded).
      await db.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
      await db.query(`SET LOCAL lock_timeout = '${lockTimeoutMs}ms'`);
      // Every lock this month needs, strongest first, parent before DEFAULT (the order of
      // readers and writers): no upgrade later, so no deadlock; at worst a 55P03 after the timeout.
      // ONLY: the other monthly partitions stay readable and writable.
      await db.query(`LOCK TABLE ONLY ${PARENT}, ${DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE`);
      // A concurrent run may have created it while we waited.
      existing = await existingPartitions(db);
      if (existing.has(name)) {
        await db.query("ROLLBACK");
        continue;
      }
      // Copy, delete and re-insert go through the parent (its statement triggers keep the booking
      // ledger and audit in step; no partition has this range yet, so the rows are DEFAULT's).
      // Its RLS is forced: act as the owner's system identity.
      await db.query(SYSTEM_SQL);
      await db.query(
        `CREATE TEMP TABLE _consultas_moving ON COMMIT DROP AS
           SELECT * FROM ${PARENT} WHERE ${range}`,
      );
      const count = await db.query("SELECT count(*)::int AS n FROM _consultas_moving");
      const n = Number(count.rows[0]?.n ?? 0);
      if (n > 0) {
        await db.query(`DELETE FROM ${PARENT} WHERE ${range}`);
      }
      // No IF NOT EXISTS: the catalog check above holds under the lock, so a relation of that
      // name here is not our partition and must fail this month instead of being skipped.
      await db.query(
        `CREATE TABLE public.${name} PARTITION OF ${PARENT}
           FOR VALUES FROM ('${lower}') TO ('${upper}')`,
      );
      if (n > 0) await db.query(`INSERT INTO ${PARENT} SELECT * FROM _consultas_moving`);
      await db.query("COMMIT");
      created.push(name);
      moved += n;
      existing.add(name);
      log(`created ${name}${n ? `, moved ${n} rows out of DEFAULT` : ""}`);
    } catch (err) {
      if (began) await db.query("ROLLBACK").catch(() => {});
      const failure = failureOf(name, err);
      failed.push(failure);
      log(
        `failed ${name}${failure.code ? ` (${failure.code})` : ""}: ${failure.error}` +
          (failure.transient ? " — transient, retry later" : ""),
      );
    }
  }

  // Coverage: the end of the contiguous run of monthly partitions starting at the current month.
  let cursor = monthStart(now);
  while (existing.has(partitionName(cursor))) cursor = monthStart(cursor, 1);
  return { created, moved, failed, coverageUntil: cursor.toISOString() };
}
