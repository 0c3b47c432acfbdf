/**
 * What the metrics-poll job measures in the database, as the owner (pg_read_all_stats, which
 * Neon's owner roles have, shows every session's state and every statement's statistics). Each
 * function returns samples; the optional sources (Neon's file cache view, pg_stat_statements, the
 * migration's bookkeeping) say why they recorded nothing instead of failing the poll.
 */
import type { Queryable } from "../../db/owner-client";
import { existingPartitions, monthStart, partitionName } from "../../db/partitions";
import type { Sample } from "./catalog";

/** Statements and sessions active longer than this count as long-running. */
export const LONG_RUNNING_SECONDS = 60;
export const TOP_STATEMENTS = 5;
export const TOP_DEAD_TUPLE_TABLES = 5;
/** The states reported even at 0, so a chart or rule sees them drop to nothing. */
const KNOWN_STATES = ["active", "idle", "idle in transaction"];

const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : Number(v));

/** Size, connections, cache hit ratio, long-running queries, dead tuples. */
export async function measureCore(db: Queryable): Promise<Sample[]> {
  const out: Sample[] = [];
  const size = await db.query(
    "SELECT pg_catalog.pg_database_size(pg_catalog.current_database())::float8 AS b",
  );
  out.push({ metric: "db_size_bytes", value: num(size.rows[0]?.b) });

  // Client sessions of the whole server (max_connections is the server's), this poll's excluded.
  const conns = await db.query(
    `SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n,
            max(CASE WHEN state = 'active' THEN extract(epoch FROM now() - query_start) END)::float8 AS oldest,
            count(*) FILTER (WHERE state = 'active'
                               AND now() - query_start > make_interval(secs => $1))::int AS long_running
       FROM pg_catalog.pg_stat_activity
      WHERE backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid()
      GROUP BY 1`,
    [LONG_RUNNING_SECONDS],
  );
  const byState = new Map<string, number>(KNOWN_STATES.map((s) => [s, 0]));
  let total = 0;
  let longRunning = 0;
  let oldest = 0;
  for (const r of conns.rows) {
    byState.set(String(r.state), num(r.n));
    total += num(r.n);
    longRunning += num(r.long_running);
    if (r.oldest !== null && num(r.oldest) > oldest) oldest = num(r.oldest);
  }
  for (const [state, n] of byState) out.push({ metric: "db_connections", labels: { state }, value: n });
  const max = await db.query("SELECT current_setting('max_connections')::int AS m");
  const maxConnections = num(max.rows[0]?.m);
  out.push({ metric: "db_max_connections", value: maxConnections });
  if (maxConnections > 0) out.push({ metric: "db_connections_ratio", value: total / maxConnections });
  out.push({ metric: "db_long_running_queries", value: longRunning });
  out.push({ metric: "db_longest_query_seconds", value: Math.max(0, oldest) });

  const hits = await db.query(
    `SELECT blks_hit::float8 AS hit, blks_read::float8 AS read
       FROM pg_catalog.pg_stat_database WHERE datname = pg_catalog.current_database()`,
  );
  const hit = num(hits.rows[0]?.hit);
  const read = num(hits.rows[0]?.read);
  if (Number.isFinite(hit) && Number.isFinite(read)) {
    out.push({ metric: "db_blocks_hit_total", value: hit }, { metric: "db_blocks_read_total", value: read });
    // No block touched yet: no ratio (0/0 is no evidence of a cold cache).
    if (hit + read > 0) out.push({ metric: "db_cache_hit_ratio", value: hit / (hit + read) });
  }

  const dead = await db.query(
    `SELECT coalesce(sum(n_dead_tup), 0)::float8 AS total FROM pg_catalog.pg_stat_user_tables`,
  );
  out.push({ metric: "db_dead_tuples", value: num(dead.rows[0]?.total) });
  const top = await db.query(
    `SELECT schemaname || '.' || relname AS t, n_dead_tup::float8 AS n
       FROM pg_catalog.pg_stat_user_tables WHERE n_dead_tup > 0
      ORDER BY n_dead_tup DESC, 1 LIMIT $1`,
    [TOP_DEAD_TUPLE_TABLES],
  );
  for (const r of top.rows)
    out.push({ metric: "db_table_dead_tuples", labels: { table: String(r.t) }, value: num(r.n) });
  return out;
}

/** Neon's local file cache hit ratio, when its view exists (the `neon` extension, on Neon only). */
export async function measureLfc(db: Queryable): Promise<{ samples: Sample[]; note: string }> {
  const view = await db.query("SELECT to_regclass('neon.neon_stat_file_cache') IS NOT NULL AS present");
  if (!view.rows[0]?.present) return { samples: [], note: "unavailable: no neon.neon_stat_file_cache view" };
  const r = await db.query(
    "SELECT file_cache_hits::float8 AS hits, file_cache_misses::float8 AS misses FROM neon.neon_stat_file_cache",
  );
  const hits = num(r.rows[0]?.hits);
  const misses = num(r.rows[0]?.misses);
  if (!(hits + misses > 0)) return { samples: [], note: "no file cache reads yet" };
  return { samples: [{ metric: "db_lfc_hit_ratio", value: hits / (hits + misses) }], note: "ok" };
}

/** SQLSTATEs meaning "pg_stat_statements cannot be read here", not "the database failed". */
const STATEMENTS_UNAVAILABLE = new Set([
  "55000", // object_not_in_prerequisite_state: not in shared_preload_libraries
  "42P01", // undefined_table
  "42501", // insufficient_privilege
  "42703", // undefined_column (a version before mean_exec_time)
]);

/**
 * The TOP_STATEMENTS statements of this database with the highest mean execution time, labelled
 * by queryid only (the text may hold values). "unavailable: …" when the extension is not installed
 * or not loaded.
 */
export async function measureStatements(db: Queryable): Promise<{ samples: Sample[]; note: string }> {
  const ext = await db.query(
    `SELECT n.nspname AS schema FROM pg_catalog.pg_extension e
       JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'pg_stat_statements'`,
  );
  const schema = ext.rows[0]?.schema;
  if (typeof schema !== "string")
    return { samples: [], note: "unavailable: pg_stat_statements is not installed" };
  const ident = `"${schema.replaceAll('"', '""')}"`;
  try {
    const r = await db.query(
      `SELECT queryid::text AS queryid, mean_exec_time::float8 AS mean
         FROM ${ident}.pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
          AND queryid IS NOT NULL AND calls > 0
        ORDER BY mean_exec_time DESC, queryid LIMIT $1`,
      [TOP_STATEMENTS],
    );
    return {
      samples: r.rows.map((row) => ({
        metric: "db_statement_mean_ms" as const,
        labels: { queryid: String(row.queryid) },
        value: num(row.mean),
      })),
      note: "ok",
    };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code && STATEMENTS_UNAVAILABLE.has(code)) {
      return {
        samples: [],
        note: `unavailable: ${code === "55000" ? "pg_stat_statements is not loaded (shared_preload_libraries)" : `pg_stat_statements cannot be read (${code})`}`,
      };
    }
    throw err;
  }
}

/** Consecutive months after `now`'s that have a consultas partition (db/partitions.ts names them). */
export async function measurePartitions(db: Queryable, now: Date): Promise<Sample[]> {
  const existing = await existingPartitions(db);
  let ahead = 0;
  while (ahead < 120 && existing.has(partitionName(monthStart(now, ahead + 1)))) ahead++;
  return [{ metric: "consultas_partitions_months_ahead", value: ahead }];
}

/** The migration's sync and CDC lag, from its own bookkeeping (nothing before it starts). */
export async function measureMigration(db: Queryable): Promise<Sample[]> {
  const out: Sample[] = [];
  const present = await db.query(
    `SELECT to_regclass('migration.tabelas') IS NOT NULL AS tabelas, to_regclass('migration.cdc') IS NOT NULL AS cdc`,
  );
  if (present.rows[0]?.tabelas) {
    const t = await db.query(
      `SELECT tabela, lag_segundos::float8 AS lag,
              extract(epoch FROM now() - ultima_execucao)::float8 AS idade
         FROM migration.tabelas ORDER BY tabela`,
    );
    for (const r of t.rows) {
      const labels = { table: String(r.tabela) };
      if (r.lag !== null) out.push({ metric: "migration_sync_lag_seconds", labels, value: num(r.lag) });
      if (r.idade !== null)
        out.push({ metric: "migration_sync_last_run_age_seconds", labels, value: Math.max(0, num(r.idade)) });
    }
  }
  if (present.rows[0]?.cdc) {
    const c = await db.query(
      "SELECT slot, lag_bytes::float8 AS bytes, lag_segundos::float8 AS secs FROM migration.cdc ORDER BY slot",
    );
    for (const r of c.rows) {
      const labels = { slot: String(r.slot) };
      if (r.bytes !== null) out.push({ metric: "migration_cdc_lag_bytes", labels, value: num(r.bytes) });
      if (r.secs !== null) out.push({ metric: "migration_cdc_lag_seconds", labels, value: num(r.secs) });
    }
  }
  return out;
}
