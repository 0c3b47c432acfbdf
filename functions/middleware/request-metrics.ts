/**
 * Request metrics: count, status class and latency of every request, per route TEMPLATE, into
 * Redis per-minute buckets (jobs/metrics/requests.ts has the layout; the metrics-poll job and
 * GET /metrics read them). Registered first, so the time covers the whole request, every other
 * middleware included.
 *
 * Cheap by construction: one Upstash pipeline per request, sent with waitUntil after the answer
 * is ready (never on the response path). Redis is an optimisation: without it nothing is
 * recorded, and a failing Redis is logged, never an error of the request.
 *
 * Not recorded: /health and /metrics (probes and scrapers would drown the API's figures, and a
 * scrape would measure itself) and /jobs/:name (QStash deliveries: batch work whose seconds-long
 * runs are not API latency). A request that matched no route is counted as `unmatched`, so a
 * scanner's random paths cannot grow the set of routes.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { type RequestObservation, recordRequest } from "../../jobs/metrics/requests";
import type { AppEnv } from "../context";

export const UNMATCHED_ROUTE = "unmatched";
export const UNRECORDED_ROUTES: ReadonlySet<string> = new Set(["/health", "/metrics", "/jobs/:name"]);

/**
 * The template of the route that handles (or would have handled) the request: the last matched
 * route that is a handler, not a middleware (`use` registers those for method ALL). Known even
 * when a middleware answered first (401, 429), since the router matched it up front.
 */
export function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]!;
    if (r.method !== "ALL") return r.path;
  }
  return UNMATCHED_ROUTE;
}

export const requestMetrics: MiddlewareHandler<AppEnv> = async (c, next) => {
  const at = Date.now();
  const started = performance.now();
  await next();
  const latencyMs = performance.now() - started;
  // No services: the environment was refused before init built them (nothing to record with).
  const services = c.get("services");
  const redis = services?.redis;
  if (!redis) return;
  const route = routeTemplate(c);
  if (UNRECORDED_ROUTES.has(route)) return;
  const obs: RequestObservation = { method: c.req.method, route, status: c.res.status, latencyMs, at };
  const sent = recordRequest(redis, obs).catch((err: unknown) =>
    services.logger.warn("request_metrics_degraded", { error: (err as Error)?.name ?? "Error" }),
  );
  try {
    c.executionCtx.waitUntil(sent);
  } catch {
    // No ExecutionContext (a runtime without one): the promise runs on its own, errors handled.
  }
};
