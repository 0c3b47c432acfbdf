/**
 * GET /v1/ops/metrics (a time range) and GET /v1/ops/metrics/latest: the samples of
 * analytics.metricas for admins and the /ops dashboard. The app role has no grant on the table:
 * the SECURITY DEFINER functions of migration 0016 read it after checking the verified identity
 * themselves (42501 for anyone but an admin, mapped to 403), and bound what one call may read (31
 * days, 100 000 rows). One round trip each, from the primary, never cached.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { pgError } from "../../../db/errors";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses } from "../openapi";
import {
  DEFAULT_RANGE_MS,
  MAX_RANGE_MS,
  type MetricSample,
  type MetricSeries,
  MetricsLatest,
  MetricsLatestQuery,
  MetricsRange,
  MetricsRangeQuery,
  SERIES_ROW_LIMIT,
} from "./metrics-schema";
import { NO_STORE } from "./neon";

/** Epoch milliseconds as a float8: a number through the driver, where a timestamptz would be a Date. */
const SERIE = `
  SELECT metrica, rotulos, floor(extract(epoch FROM em) * 1000)::float8 AS t, valor
    FROM app.metricas_serie($1::text[], $2::timestamptz, $3::timestamptz)
   ORDER BY metrica, rotulos, em`;

const RECENTES = `
  SELECT metrica, rotulos, floor(extract(epoch FROM em) * 1000)::float8 AS t, valor
    FROM app.metricas_recentes(make_interval(mins => $1::int))
   WHERE $2::text[] IS NULL OR metrica = ANY ($2::text[])
   ORDER BY metrica, rotulos`;

interface SampleRow {
  metrica: string;
  rotulos: unknown;
  t: number;
  valor: number;
}

const rangeRoute = createRoute({
  method: "get",
  path: "/ops/metrics",
  tags: ["ops"],
  summary: "Metric samples over a time range (admin)",
  description:
    "Admins only. The samples the metrics-poll job wrote (one per metric, label set and minute: " +
    "`api_requests_per_second`, `api_error_rate`, `api_latency_p50_ms`/`p95`/`p99`, " +
    "`db_connections` by `state`, `db_connections_ratio`, `db_cache_hit_ratio`, `db_size_bytes`, " +
    "...) for the metrics named by `metric` (repeatable) between `from` and `to`, both " +
    "inclusive: by default the last hour, at most 31 days. One series per metric and label set, " +
    "points as `[epoch_ms, value]`. At most 100 000 samples per call (`truncated` says when the " +
    "range held more). Read from the primary and never cached (`Cache-Control: no-store`).",
  security: bearerSecurity,
  request: { query: MetricsRangeQuery },
  responses: {
    200: {
      description: "The series (an empty list when nothing was sampled in the range)",
      headers: NO_STORE,
      content: { "application/json": { schema: MetricsRange } },
    },
    ...errorResponses(403),
  },
});

const latestRoute = createRoute({
  method: "get",
  path: "/ops/metrics/latest",
  tags: ["ops"],
  summary: "The latest sample of every metric (admin)",
  description:
    "Admins only. The newest sample of every metric and label set sampled in the last " +
    "`window_minutes` (default 15), optionally only the metrics named by `metric` (repeatable). " +
    "Read from the primary and never cached (`Cache-Control: no-store`).",
  security: bearerSecurity,
  request: { query: MetricsLatestQuery },
  responses: {
    200: {
      description: "The latest samples (an empty list when nothing was sampled in the window)",
      headers: NO_STORE,
      content: { "application/json": { schema: MetricsLatest } },
    },
    ...errorResponses(403),
  },
});

/** The [from, to] read: defaults filled, both to the millisecond (what the answer echoes). */
export function metricsRange(from: string | undefined, to: string | undefined, now: Date) {
  const end = to ? Date.parse(to) : now.getTime();
  const start = from ? Date.parse(from) : end - DEFAULT_RANGE_MS;
  if (end < start) {
    throw new ApiError("bad_request", "`to` must not be before `from`", [
      { path: "to", message: "before from" },
    ]);
  }
  if (end - start > MAX_RANGE_MS) {
    throw new ApiError("bad_request", "The range may span at most 31 days", [
      { path: to ? "to" : "from", message: "more than 31 days between from and to" },
    ]);
  }
  return { from: new Date(start).toISOString(), to: new Date(end).toISOString() };
}

/** Labels as a flat object of strings, whatever a writer put in the jsonb. */
function labelsOf(rotulos: unknown): Record<string, string> {
  if (!rotulos || typeof rotulos !== "object" || Array.isArray(rotulos)) return {};
  return Object.fromEntries(
    Object.entries(rotulos).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
}

/** Rows ordered by metric, labels and time → one series per metric and label set. */
export function toSeries(rows: readonly SampleRow[]): MetricSeries[] {
  const out: MetricSeries[] = [];
  let key = "";
  for (const r of rows) {
    const labels = labelsOf(r.rotulos);
    const k = `${r.metrica}\u0000${JSON.stringify(labels)}`;
    if (k !== key || !out.length) {
      out.push({ metric: r.metrica, labels, points: [] });
      key = k;
    }
    out[out.length - 1]!.points.push([r.t, r.valor]);
  }
  return out;
}

/**
 * The database checks the range again and answers 22023 for one it refuses: the caller's input,
 * so a 400 (db-errors.ts does not map 22023 for every route: elsewhere it would be our bug).
 */
function badRangeFromDb(err: unknown): unknown {
  if (pgError(err)?.code !== "22023") return err;
  return new ApiError("bad_request", "The range or window is out of bounds");
}

export function registerMetrics(app: OpenAPIHono<V1Env>) {
  app.openapi(rangeRoute, async (c) => {
    c.header("Cache-Control", "no-store");
    // Saves non-admins a round trip; the database's own check is the guarantee.
    allowRoles(c.get("auth"), "admin");
    const q = c.req.valid("query");
    const range = metricsRange(q.from, q.to, c.get("services").clock.now());
    // The primary: an operator wants what the poll job just wrote, not a replica's lagging copy.
    const [rows] = await c
      .get("db")
      .batch<[SampleRow[]]>((sql) => [sql(SERIE, [q.metric, range.from, range.to])], {
        readOnly: true,
        primary: true,
      })
      .catch((err: unknown) => {
        throw badRangeFromDb(err);
      });
    return c.json({ ...range, truncated: rows.length >= SERIES_ROW_LIMIT, series: toSeries(rows) }, 200);
  });

  app.openapi(latestRoute, async (c) => {
    c.header("Cache-Control", "no-store");
    allowRoles(c.get("auth"), "admin");
    const q = c.req.valid("query");
    const [rows] = await c
      .get("db")
      .batch<[SampleRow[]]>((sql) => [sql(RECENTES, [q.window_minutes, q.metric ?? null])], {
        readOnly: true,
        primary: true,
      })
      .catch((err: unknown) => {
        throw badRangeFromDb(err);
      });
    const data: MetricSample[] = rows.map((r) => ({
      metric: r.metrica,
      labels: labelsOf(r.rotulos),
      at: new Date(r.t).toISOString(),
      value: r.valor,
    }));
    return c.json({ window_minutes: q.window_minutes, data }, 200);
  });
}
