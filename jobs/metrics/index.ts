import type { PoolClient } from "@neondatabase/serverless";
import { z } from "zod";
import { withOwnerLock } from "../owner-session";
import { defineJob, type JobContext, type JobResult } from "../types";
import type { MetricName, Sample } from "./catalog";
import { measureCore, measureLfc, measureMigration, measurePartitions, measureStatements } from "./database";
import { measureReplicaLag } from "./replicas";
import { minuteOf, readRequestWindow } from "./requests";

/** Samples older than this many days are purged (the payload's retention_days overrides it). */
export const METRICS_RETENTION_DAYS = 14;
/** Session-level advisory lock: one poll at a time (autoscale holds ...015, migrate ...011). */
const LOCK_KEY = 7_246_301_016;
/** Written last: its row for a minute means that minute's poll completed. */
const DONE_MARKER: MetricName = "metrics_poll_duration_seconds";

/**
 * The metric poll, every minute: measures the database (size, connections by state and over
 * max_connections, cache hit ratios, the slowest statements, long-running queries, dead tuples,
 * consultas partitions ahead), the replicas' lag, the migration's sync and CDC lag, and the API's
 * figures of the last complete minute from Redis (jobs/metrics/requests.ts), and writes them to
 * analytics.metricas: one row per metric, label set and minute, at the minute the poll ran (the
 * API figures at T describe the minute before T). The names and their labels: ./catalog.ts.
 * Then it purges samples older than `retention_days`.
 *
 * Duplicate deliveries: the run holds an advisory lock (a concurrent one answers skipped), a
 * minute already polled (its marker row, metrics_poll_duration_seconds, exists) is skipped, and
 * the rows go in in one transaction that inserts the marker first: a minute has one poll's
 * samples, all or none, and a sample once written is never duplicated or changed. Without DATABASE_OWNER_URL it skips; without Redis it records
 * no API figures; pg_stat_statements, Neon's file cache view and replicas are recorded when there.
 */
export const metricsPoll = defineJob({
  name: "metrics-poll",
  description: "Samples database, replica, migration and API metrics into analytics.metricas",
  payload: z
    .object({ retention_days: z.number().int().min(1).max(90).default(METRICS_RETENTION_DAYS) })
    .strict(),
  schedule: { cron: "* * * * *", retries: 2, payload: { retention_days: METRICS_RETENTION_DAYS } },
  async run(ctx, payload): Promise<JobResult> {
    const ownerUrl = ctx.ownerUrl;
    if (!ownerUrl) return { status: "skipped", reason: "DATABASE_OWNER_URL is not set for this worker" };
    const run = await withOwnerLock(ctx, ownerUrl, LOCK_KEY, (client) =>
      poll(ctx, client, ownerUrl, payload.retention_days),
    );
    return run.busy ? { status: "skipped", reason: "another metrics poll is in progress" } : run.value;
  },
});

async function poll(
  ctx: JobContext,
  client: PoolClient,
  ownerUrl: string,
  retentionDays: number,
): Promise<JobResult> {
  const started = performance.now();
  const now = ctx.clock.now();
  const minute = new Date(minuteOf(now.getTime()) * 60_000);
  const done = await client.query(
    "SELECT 1 FROM analytics.metricas WHERE metrica = $1 AND rotulos = '{}'::jsonb AND em = $2",
    [DONE_MARKER, minute],
  );
  if (done.rows.length > 0)
    return { status: "skipped", reason: "this minute was already polled", minute: minute.toISOString() };
  // A catalog view that hangs must not hold the run (and its lock) for long.
  await client.query("SET statement_timeout = '15s'");

  const samples: Sample[] = [];
  samples.push(...(await measureCore(client)));
  samples.push(...(await measurePartitions(client, now)));
  samples.push(...(await measureMigration(client)));
  const lfc = await measureLfc(client);
  samples.push(...lfc.samples);
  const statements = await measureStatements(client);
  samples.push(...statements.samples);
  if (statements.note !== "ok")
    ctx.logger.info("metrics_statements_unavailable", { reason: statements.note });
  const api = await measureApi(ctx, minuteOf(now.getTime()));
  samples.push(...api.samples);
  const replicas = await measureReplicaLag(ctx.neon, ownerUrl, ctx.logger).catch((err: unknown) => {
    ctx.logger.warn("metrics_replicas_failed", {
      error: (err as Error).name,
      status: (err as { status?: number }).status,
    });
    return { samples: [], replicas: {}, note: `unavailable: ${(err as Error).name}` };
  });
  samples.push(...replicas.samples);

  const { rows: kept, dropped } = toRows(samples);
  if (dropped.length) ctx.logger.warn("metrics_not_finite", { metrics: dropped });
  // One transaction that claims the minute first: a concurrent delivery (where the advisory lock
  // does not hold, e.g. behind a pooler) waits on the marker's key, then finds it taken and rolls
  // back. So a minute has one poll's samples, all or none.
  let inserted: number;
  await client.query("BEGIN");
  try {
    const claimed = await client.query(
      `INSERT INTO analytics.metricas (metrica, rotulos, em, valor) VALUES ($1, '{}', $2, $3)
       ON CONFLICT ON CONSTRAINT metricas_pkey DO NOTHING RETURNING 1`,
      [DONE_MARKER, minute, (performance.now() - started) / 1000],
    );
    if (claimed.rows.length === 0) {
      await client.query("ROLLBACK");
      return { status: "skipped", reason: "this minute was already polled", minute: minute.toISOString() };
    }
    const rest = await client.query(
      `INSERT INTO analytics.metricas (metrica, rotulos, em, valor)
       SELECT m, r::jsonb, $4, v FROM unnest($1::text[], $2::text[], $3::float8[]) AS s(m, r, v)
       ON CONFLICT ON CONSTRAINT metricas_pkey DO NOTHING`,
      [kept.map((r) => r.metric), kept.map((r) => r.labels), kept.map((r) => r.value), minute],
    );
    await client.query("COMMIT");
    inserted = 1 + ((rest as { rowCount?: number | null }).rowCount ?? 0);
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
  const purged = await client.query("DELETE FROM analytics.metricas WHERE em < $1", [
    new Date(minute.getTime() - retentionDays * 86_400_000),
  ]);
  return {
    status: "done",
    minute: minute.toISOString(),
    samples: kept.length + 1,
    inserted,
    purged: (purged as { rowCount?: number | null }).rowCount ?? 0,
    statements: statements.note,
    lfc: lfc.note,
    api: api.note,
    replicas: { note: replicas.note, endpoints: replicas.replicas },
  };
}

/** The API's figures of the last complete minute, overall and per route that had requests. */
async function measureApi(
  ctx: JobContext,
  currentMinute: number,
): Promise<{ samples: Sample[]; note: string }> {
  if (!ctx.redis) return { samples: [], note: "unavailable: no Redis" };
  let window: Awaited<ReturnType<typeof readRequestWindow>>;
  try {
    window = await readRequestWindow(ctx.redis, currentMinute - 1, currentMinute);
  } catch (err) {
    // Redis is an optimisation: the database figures are still worth writing.
    ctx.logger.warn("metrics_redis_failed", { error: (err as Error).name });
    return { samples: [], note: `unavailable: Redis failed (${(err as Error).name})` };
  }
  const o = window.overall;
  const samples: Sample[] = [
    { metric: "api_requests_per_second", value: o.qps },
    { metric: "api_error_rate", value: o.errorRate },
  ];
  if (o.p50 !== null) samples.push({ metric: "api_latency_p50_ms", value: o.p50 });
  if (o.p95 !== null) samples.push({ metric: "api_latency_p95_ms", value: o.p95 });
  if (o.p99 !== null) samples.push({ metric: "api_latency_p99_ms", value: o.p99 });
  for (const r of window.routes) {
    const labels = { method: r.method, route: r.route };
    samples.push(
      { metric: "api_route_requests_per_second", labels, value: r.qps },
      { metric: "api_route_error_rate", labels, value: r.errorRate },
    );
    if (r.p50 !== null) samples.push({ metric: "api_route_latency_p50_ms", labels, value: r.p50 });
    if (r.p95 !== null) samples.push({ metric: "api_route_latency_p95_ms", labels, value: r.p95 });
    if (r.p99 !== null) samples.push({ metric: "api_route_latency_p99_ms", labels, value: r.p99 });
  }
  return { samples, note: `ok: ${o.requests} requests` };
}

/** Samples as insert columns; a NaN or infinity (the table refuses them) is dropped and named. */
function toRows(samples: Sample[]) {
  const rows: { metric: string; labels: string; value: number }[] = [];
  const dropped: string[] = [];
  for (const s of samples) {
    if (Number.isFinite(s.value))
      rows.push({ metric: s.metric, labels: JSON.stringify(s.labels ?? {}), value: s.value });
    else dropped.push(s.metric);
  }
  return { rows, dropped };
}
