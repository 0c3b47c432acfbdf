/**
 * GET /metrics: Prometheus text exposition (0.0.4) of the latest metrics poll and the API's live
 * request counters, for a Prometheus scraper or an admin.
 *
 * Who: `Authorization: Bearer <METRICS_TOKEN>` (a scraper's static secret, compared in constant
 * time; unset: this way is closed) or `Bearer <JWT>` of an admin. Anyone else: 401, or 403 for a
 * valid token of another role. The API never connects as the owner: the samples are read as the
 * app role through app.metricas_recentes, which admits only a verified admin identity, so the
 * worker signs one for this single read (no user id for the scraper: it is no person).
 *
 * What:
 * - every metric of analytics.metricas at its latest poll in the last LATEST_WINDOW (names and
 *   help from jobs/metrics/catalog.ts; other writers' metrics as gauges), so each family shows
 *   exactly the label sets of that poll;
 * - `http_requests_total{method,route,status}` (counter) and `http_request_duration_seconds`
 *   (histogram) per route template, running totals from Redis (jobs/metrics/requests.ts): what
 *   the request-metrics middleware recorded, i.e. not /health, /metrics or /jobs;
 * - `fisioflow_metrics_poll_age_seconds`, `fisioflow_metrics_store_up` and
 *   `fisioflow_request_counters_up`: whether each source answered. A source that fails leaves its
 *   families out and its `_up` at 0; the answer is still 200 (a scrape must not fail whole).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { cachedIdentitySigner } from "../../db/identity";
import { AUTH_SQL } from "../../db/session";
import { METRICS, type MetricInfo } from "../../jobs/metrics/catalog";
import {
  countOf,
  LATENCY_BOUNDS_MS,
  type RouteCounts,
  readRequestTotals,
  STATUS_CLASSES,
  splitRouteKey,
} from "../../jobs/metrics/requests";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { verifyToken } from "../middleware/auth";
import { bearerSecurity, errorResponses } from "../v1/openapi";
import { encode, type Family, labelsFromJson, PROMETHEUS_CONTENT_TYPE } from "./prometheus";

/** How far back the latest poll is looked for: a poll older than this is not "latest" any more. */
export const LATEST_WINDOW_MINUTES = 5;
const DB_TIMEOUT_MS = 5000;

const LATEST_SQL = `
  SELECT metrica, rotulos, floor(extract(epoch FROM em) * 1000)::float8 AS t, valor
    FROM app.metricas_recentes(make_interval(mins => $1::int))`;

/** Names this route makes itself: a stored metric of such a name would clash, and is left out. */
const OWN_PREFIXES = ["http_request", "fisioflow_"];

const route = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["ops"],
  summary: "Prometheus metrics (admin or METRICS_TOKEN)",
  description:
    "Prometheus text exposition format 0.0.4. `Authorization: Bearer` with the METRICS_TOKEN " +
    "secret (for scrapers) or an admin's JWT. The latest metrics poll (analytics.metricas: " +
    "db_*, api_*, replica_lag_seconds, migration_*, ...) and running request totals per route " +
    "template (`http_requests_total`, `http_request_duration_seconds`). A source that cannot be " +
    "read is left out and reported by `fisioflow_metrics_store_up` / `fisioflow_request_counters_up`.",
  security: bearerSecurity,
  responses: {
    200: {
      description: "The metrics",
      headers: z.object({ "Cache-Control": z.literal("no-store") }),
      content: { "text/plain": { schema: z.string() } },
    },
    ...errorResponses(403),
  },
});

const encoder = new TextEncoder();

/** Equal strings, in time that depends on neither (both hashed first: equal lengths, no early exit). */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all(
    [a, b].map(async (s) => new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(s)))),
  );
  let diff = 0;
  for (let i = 0; i < x!.length; i++) diff |= x![i]! ^ y![i]!;
  return diff === 0;
}

/** Who scrapes: null user = the METRICS_TOKEN holder, else the admin's id. */
async function authorize(c: Context<AppEnv>): Promise<{ userId: string | null }> {
  const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
  if (!match) throw new ApiError("unauthorized", "Missing bearer token");
  const token = match[1]!;
  const env = c.get("env");
  if (env.METRICS_TOKEN && (await sameSecret(token, env.METRICS_TOKEN))) return { userId: null };
  const auth = await verifyToken(token, env);
  c.set("auth", auth);
  if (auth.role !== "admin")
    throw new ApiError("forbidden", "Only an admin or the metrics token may read metrics");
  return { userId: auth.userId };
}

interface LatestRow {
  metrica: string;
  rotulos: unknown;
  t: number;
  valor: number;
}

/** The rows of each metric's newest poll within the window. */
async function latestPoll(c: Context<AppEnv>, userId: string | null): Promise<LatestRow[]> {
  const env = c.get("env");
  const sql = c.get("services").unscopedSql;
  const signer = cachedIdentitySigner({ kid: env.DB_IDENTITY_KEY_ID, secret: env.DB_IDENTITY_KEY });
  const identity = await signer.token(userId, "admin");
  const results = (await sql.transaction(
    [sql.query(AUTH_SQL, [identity]), sql.query(LATEST_SQL, [LATEST_WINDOW_MINUTES])],
    { readOnly: true, fetchOptions: { signal: AbortSignal.timeout(DB_TIMEOUT_MS) } },
  )) as unknown as [unknown, LatestRow[]];
  const rows = results[1];
  const newest = new Map<string, number>();
  for (const r of rows) newest.set(r.metrica, Math.max(newest.get(r.metrica) ?? 0, Number(r.t)));
  return rows.filter((r) => Number(r.t) === newest.get(r.metrica));
}

/** analytics.metricas rows → one family per metric name (sorted; label sets sorted too). */
export function storedFamilies(rows: readonly LatestRow[]): Family[] {
  const byName = new Map<string, LatestRow[]>();
  for (const r of rows) {
    if (OWN_PREFIXES.some((p) => r.metrica.startsWith(p))) continue;
    const list = byName.get(r.metrica) ?? [];
    list.push(r);
    byName.set(r.metrica, list);
  }
  return [...byName.keys()].sort().map((name) => {
    const info = (METRICS as Record<string, MetricInfo>)[name];
    const samples = byName
      .get(name)!
      .map((r) => ({ labels: labelsFromJson(r.rotulos), value: Number(r.valor) }))
      .sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
    return {
      name,
      help: info?.help ?? "Sampled into analytics.metricas",
      type: info?.type ?? "gauge",
      samples,
    };
  });
}

/** Running request totals → a counter of requests and a latency histogram, per route template. */
export function liveFamilies(totals: Map<string, RouteCounts>): Family[] {
  const requests: Family = {
    name: "http_requests_total",
    help: "Requests answered, by route template and status class (running total in Redis)",
    type: "counter",
    samples: [],
  };
  const duration: Family = {
    name: "http_request_duration_seconds",
    help: "Request latency by route template, from the start of the first middleware to the answer",
    type: "histogram",
    samples: [],
  };
  for (const [key, counts] of [...totals].sort(([a], [b]) => a.localeCompare(b))) {
    const count = countOf(counts);
    if (count === 0) continue;
    const base = splitRouteKey(key);
    for (const status of STATUS_CLASSES) {
      if (counts.status[status] > 0)
        requests.samples.push({ labels: { ...base, status }, value: counts.status[status] });
    }
    let cumulative = 0;
    LATENCY_BOUNDS_MS.forEach((bound, i) => {
      cumulative += counts.buckets[i]!;
      duration.samples.push({
        suffix: "_bucket",
        labels: { ...base, le: String(Number((bound / 1000).toPrecision(3))) },
        value: cumulative,
      });
    });
    // +Inf is every request, whatever the buckets hold (a bucket field lost cannot break the rule).
    duration.samples.push({ suffix: "_bucket", labels: { ...base, le: "+Inf" }, value: count });
    duration.samples.push({ suffix: "_sum", labels: base, value: counts.sumUs / 1e6 });
    duration.samples.push({ suffix: "_count", labels: base, value: count });
  }
  return [requests, duration];
}

export function registerMetrics(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    c.header("Cache-Control", "no-store");
    const { userId } = await authorize(c);
    const { redis, logger } = c.get("services");
    const now = Date.now();
    const [stored, totals] = await Promise.all([
      latestPoll(c, userId).catch((err: unknown) => {
        logger.warn("metrics_store_unreadable", {
          error: (err as Error)?.name ?? "Error",
          code: (err as { code?: string }).code,
        });
        return null;
      }),
      redis
        ? readRequestTotals(redis).catch((err: unknown) => {
            logger.warn("metrics_redis_unreadable", { error: (err as Error)?.name ?? "Error" });
            return null;
          })
        : Promise.resolve(null),
    ]);
    const families: Family[] = [];
    if (stored) families.push(...storedFamilies(stored));
    if (totals) families.push(...liveFamilies(totals));
    const newest = stored?.length ? Math.max(...stored.map((r) => Number(r.t))) : null;
    if (newest !== null)
      families.push({
        name: "fisioflow_metrics_poll_age_seconds",
        help: "Seconds since the newest sample of the metrics poll",
        type: "gauge",
        samples: [{ value: Math.max(0, (now - newest) / 1000) }],
      });
    families.push(
      {
        name: "fisioflow_metrics_store_up",
        help: "1 when analytics.metricas could be read for this scrape",
        type: "gauge",
        samples: [{ value: stored ? 1 : 0 }],
      },
      {
        name: "fisioflow_request_counters_up",
        help: "1 when the request counters could be read from Redis for this scrape (0 without Redis)",
        type: "gauge",
        samples: [{ value: totals ? 1 : 0 }],
      },
    );
    return c.text(encode(families), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  });
}
