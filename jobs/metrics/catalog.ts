/**
 * The metrics the metrics-poll job writes to analytics.metricas, with what each means: the names
 * the alert rules, the /ops dashboard and GET /metrics use. Each name has one kind of label set
 * (all its rows carry the same label names), so a rule over a name with no filter compares like
 * with like: the overall API figures have no labels, the per-route ones are separate names.
 */
export interface MetricInfo {
  help: string;
  /** Prometheus type for GET /metrics: a sampled value (gauge) or a running total (counter). */
  type: "gauge" | "counter";
  /** The label names its rows carry. */
  labels: readonly string[];
}

export const METRICS = {
  db_size_bytes: { help: "Size of the database (pg_database_size)", type: "gauge", labels: [] },
  db_connections: {
    help: "Client connections to the server by state (pg_stat_activity; 'unknown' when not visible)",
    type: "gauge",
    labels: ["state"],
  },
  db_connections_ratio: {
    help: "Client connections over max_connections (0..1)",
    type: "gauge",
    labels: [],
  },
  db_max_connections: { help: "The server's max_connections", type: "gauge", labels: [] },
  db_cache_hit_ratio: {
    help: "Shared buffer hit ratio of this database since its statistics were reset (pg_stat_database)",
    type: "gauge",
    labels: [],
  },
  db_blocks_hit_total: {
    help: "Shared buffer hits of this database since its statistics were reset",
    type: "counter",
    labels: [],
  },
  db_blocks_read_total: {
    help: "Blocks read from outside shared buffers since the statistics were reset",
    type: "counter",
    labels: [],
  },
  db_lfc_hit_ratio: {
    help: "Neon local file cache hit ratio (neon.neon_stat_file_cache; absent off Neon)",
    type: "gauge",
    labels: [],
  },
  db_statement_mean_ms: {
    help: "Mean execution time of the 5 slowest statements by mean (pg_stat_statements; no query text)",
    type: "gauge",
    labels: ["queryid"],
  },
  db_long_running_queries: {
    help: "Client queries active for more than 60 s",
    type: "gauge",
    labels: [],
  },
  db_longest_query_seconds: {
    help: "Age of the oldest active client query (0 when none)",
    type: "gauge",
    labels: [],
  },
  db_dead_tuples: { help: "Dead tuples in all user tables of this database", type: "gauge", labels: [] },
  db_table_dead_tuples: {
    help: "Dead tuples of the 5 user tables with the most",
    type: "gauge",
    labels: ["table"],
  },
  consultas_partitions_months_ahead: {
    help: "Consecutive months after the current one that have a consultas partition",
    type: "gauge",
    labels: [],
  },
  replica_lag_seconds: {
    help: "Replay lag of an active read replica (0 when it has replayed all it received)",
    type: "gauge",
    labels: ["endpoint"],
  },
  migration_sync_lag_seconds: {
    help: "How far the migration's sync was behind the legacy source when its last batch ended",
    type: "gauge",
    labels: ["table"],
  },
  migration_sync_last_run_age_seconds: {
    help: "Seconds since the migration's sync last ran for a table",
    type: "gauge",
    labels: ["table"],
  },
  migration_cdc_lag_bytes: {
    help: "WAL the migration's CDC slot still holds on the legacy source",
    type: "gauge",
    labels: ["slot"],
  },
  migration_cdc_lag_seconds: {
    help: "Age of the oldest change the migration's CDC has not applied",
    type: "gauge",
    labels: ["slot"],
  },
  api_requests_per_second: {
    help: "API requests per second over the last complete minute (health, metrics and jobs excluded)",
    type: "gauge",
    labels: [],
  },
  api_error_rate: {
    help: "Share of API requests answered 5xx in the last complete minute (0 without requests)",
    type: "gauge",
    labels: [],
  },
  api_latency_p50_ms: { help: "API latency median over the last complete minute", type: "gauge", labels: [] },
  api_latency_p95_ms: { help: "API latency p95 over the last complete minute", type: "gauge", labels: [] },
  api_latency_p99_ms: { help: "API latency p99 over the last complete minute", type: "gauge", labels: [] },
  api_route_requests_per_second: {
    help: "Requests per second of one route over the last complete minute (routes with requests)",
    type: "gauge",
    labels: ["method", "route"],
  },
  api_route_error_rate: {
    help: "Share of one route's requests answered 5xx in the last complete minute",
    type: "gauge",
    labels: ["method", "route"],
  },
  api_route_latency_p50_ms: {
    help: "Latency median of one route over the last complete minute",
    type: "gauge",
    labels: ["method", "route"],
  },
  api_route_latency_p95_ms: {
    help: "Latency p95 of one route over the last complete minute",
    type: "gauge",
    labels: ["method", "route"],
  },
  api_route_latency_p99_ms: {
    help: "Latency p99 of one route over the last complete minute",
    type: "gauge",
    labels: ["method", "route"],
  },
  metrics_poll_duration_seconds: {
    help: "How long the metrics poll took; written last, so its presence marks a complete poll",
    type: "gauge",
    labels: [],
  },
} as const satisfies Record<string, MetricInfo>;

export type MetricName = keyof typeof METRICS;

/** One row for analytics.metricas (the time is the poll's minute). */
export interface Sample {
  metric: MetricName;
  labels?: Record<string, string>;
  value: number;
}
