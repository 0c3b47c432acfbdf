/**
 * Partition upkeep for `consultas` (PARTITION BY RANGE (data_consulta), UTC months + DEFAULT).
 *
 * Creates the monthly partitions from `monthsBehind` before `now` to `monthsAhead` after it, plus
 * one for every month that has rows sitting in DEFAULT, and moves those rows into their month.
 * PostgreSQL refuses to create a partition while DEFAULT holds rows of its range, so each month
 * is one transaction: lock DEFAULT against writes, copy its rows of that month out, delete them,
 * create the partition, insert them back (all through the parent). No DETACH, so readers never see a
 * hole. Idempotent: months that exist are skipped (catalog check + IF NOT EXISTS).
 *
 * Needs an interactive transaction (WebSocket Pool client or pg client) as the owner.
 */

export interface Queryable {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export interface EnsurePartitionsOptions {
  /** Months after the current one to create (default 3). */
  monthsAhead?: number;
  /** Months before the current one to create (default 0; the seed uses 12). */
  monthsBehind?: number;
  now?: Date;
  log?: (line: string) => void;
}

export interface EnsurePartitionsReport {
  created: string[];
  moved: number;
  /** Exclusive upper bound (ISO, UTC) up to which every month has a partition. */
  coverageUntil: string;
}

const PARENT = "public.consultas";
const DEFAULT_PARTITION = "public.consultas_default";
const LOCK_KEY = 7_246_301_012;

/** First instant of the UTC month of `d` shifted by `offset` months. */
export function monthStart(d: Date, offset = 0): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));
}

export function partitionName(month: Date): string {
  return `consultas_y${month.getUTCFullYear()}m${String(month.getUTCMonth() + 1).padStart(2, "0")}`;
}

function pgTimestamp(d: Date): string {
  return `${d.toISOString().slice(0, 10)} 00:00:00+00`;
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
  const ahead = opts.monthsAhead ?? 3;
  const behind = opts.monthsBehind ?? 0;
  const log = opts.log ?? (() => {});

  const months = new Map<string, Date>();
  for (let i = -behind; i <= ahead; i++) {
    const m = monthStart(now, i);
    months.set(partitionName(m), m);
  }
  // Months with rows stuck in DEFAULT get a partition too, so DEFAULT ends up empty.
  const stuck = await db.query(
    `SELECT DISTINCT date_trunc('month', data_consulta AT TIME ZONE 'UTC') AS m FROM ${DEFAULT_PARTITION}`,
  );
  for (const r of stuck.rows) {
    const m = monthStart(
      new Date(`${String(r.m instanceof Date ? r.m.toISOString() : r.m).slice(0, 10)}T00:00:00Z`),
    );
    months.set(partitionName(m), m);
  }

  const created: string[] = [];
  let moved = 0;
  let existing = await existingPartitions(db);
  for (const [name, from] of [...months].sort(([a], [b]) => a.localeCompare(b))) {
    if (existing.has(name)) continue;
    const to = monthStart(from, 1);
    // Literals we format ourselves (utility statements such as CREATE TABLE AS take no parameters).
    const range = `data_consulta >= '${pgTimestamp(from)}' AND data_consulta < '${pgTimestamp(to)}'`;
    await db.query("BEGIN");
    try {
      await db.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
      // A concurrent run may have created it while we waited for the lock.
      existing = await existingPartitions(db);
      if (existing.has(name)) {
        await db.query("ROLLBACK");
        continue;
      }
      // Writers into DEFAULT wait until COMMIT; readers are not blocked.
      await db.query(`LOCK TABLE ${DEFAULT_PARTITION} IN EXCLUSIVE MODE`);
      // Copy, delete and re-insert go through the parent (its statement triggers keep the booking
      // ledger and audit in step; no partition has this range yet, so the rows are DEFAULT's).
      // Its RLS is forced: act as the owner's system identity.
      await db.query("SELECT set_config('app.role', 'system', true)");
      await db.query(
        `CREATE TEMP TABLE _consultas_moving ON COMMIT DROP AS
           SELECT * FROM ${PARENT} WHERE ${range}`,
      );
      const count = await db.query("SELECT count(*)::int AS n FROM _consultas_moving");
      const n = Number(count.rows[0]?.n ?? 0);
      if (n > 0) {
        await db.query(`DELETE FROM ${PARENT} WHERE ${range}`);
      }
      await db.query(
        `CREATE TABLE IF NOT EXISTS public.${name} PARTITION OF ${PARENT}
           FOR VALUES FROM ('${pgTimestamp(from)}') TO ('${pgTimestamp(to)}')`,
      );
      if (n > 0) await db.query(`INSERT INTO ${PARENT} SELECT * FROM _consultas_moving`);
      await db.query("COMMIT");
      created.push(name);
      moved += n;
      existing.add(name);
      log(`created ${name}${n ? `, moved ${n} rows out of DEFAULT` : ""}`);
    } catch (err) {
      await db.query("ROLLBACK").catch(() => {});
      throw err;
    }
  }

  // Coverage: the end of the contiguous run of monthly partitions starting at the current month.
  let cursor = monthStart(now);
  while (existing.has(partitionName(cursor))) cursor = monthStart(cursor, 1);
  return { created, moved, coverageUntil: cursor.toISOString() };
}
