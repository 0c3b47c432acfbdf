/**
 * The API's request metrics in Redis: what the request-metrics middleware (functions/middleware/
 * request-metrics.ts) writes for every request and what the metrics-poll job and GET /metrics
 * read. Here, in jobs/, because the job reads it and jobs/ may not import functions/.
 *
 * Layout: one hash per UTC minute, `m:req:<epoch minute>` (kept MINUTE_TTL_SECONDS), and one
 * hash of running totals since it was created, `m:req:total` (GET /metrics' counters; its
 * expiry restarts with every request). Fields, for each route key `<METHOD> <route template>`:
 *
 *   `<key>|2xx` … `<key>|5xx`   requests answered with that status class (the count is their sum)
 *   `<key>|le:<bound>`          requests whose latency fell in the bucket (previous bound, bound]
 *                               in ms; `le:+Inf` above the last bound (NOT cumulative)
 *   `<key>|sum_us`              total latency in microseconds (integer: HINCRBY, no float drift)
 *
 * Route keys are templates (`GET /v1/pacientes/:id`), never raw paths: the set of fields stays
 * bounded by the routes the app has. Percentiles are estimated from the buckets by linear
 * interpolation inside the bucket the rank falls in (as Prometheus' histogram_quantile does), so
 * an estimate is always inside the bucket that holds the true value: within a factor of 1.47 of
 * it, the ratio of neighbouring bounds.
 */
import type { Redis } from "@upstash/redis/cloudflare";

export const MINUTE_KEY_PREFIX = "m:req:";
export const TOTAL_KEY = "m:req:total";
/** Minute hashes live two days: the poll job reads the last minute, an operator the last day. */
export const MINUTE_TTL_SECONDS = 2 * 86_400;
/** The totals hash disappears 30 days after the last request (its counters then start over). */
export const TOTAL_TTL_SECONDS = 30 * 86_400;
/** The longest window one read may sum (each minute is one HGETALL in a pipeline). */
export const MAX_WINDOW_MINUTES = 24 * 60;

/**
 * Upper bounds of the latency buckets, in ms: six per decade (10^(k/6), 3 significant digits),
 * from 1 ms to 31.6 s. Fixed: changing them splits the history of a bucket field.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = Array.from({ length: 28 }, (_, k) =>
  Number((10 ** (k / 6)).toPrecision(3)),
);

export const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** Methods kept as they are; anything else a client sends is counted as OTHER. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export interface RequestObservation {
  method: string;
  /** The route template (Hono's routePath), or "unmatched": never a path with ids in it. */
  route: string;
  status: number;
  latencyMs: number;
  /** When the request started (epoch ms): it decides the minute. */
  at: number;
}

export function minuteOf(epochMs: number): number {
  return Math.floor(epochMs / 60_000);
}

export function minuteKey(minute: number): string {
  return `${MINUTE_KEY_PREFIX}${minute}`;
}

export function normalizeMethod(method: string): string {
  const m = method.toUpperCase();
  return METHODS.has(m) ? m : "OTHER";
}

export function statusClass(status: number): StatusClass {
  const c = Math.floor(status / 100);
  return STATUS_CLASSES[Math.min(5, Math.max(1, Number.isFinite(c) ? c : 5)) - 1]!;
}

/** Index of the bucket `latencyMs` falls in: the first bound >= it; bounds.length = overflow. */
export function bucketIndex(latencyMs: number, bounds: readonly number[] = LATENCY_BOUNDS_MS): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (latencyMs <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function bucketLabel(i: number): string {
  return i < LATENCY_BOUNDS_MS.length ? String(LATENCY_BOUNDS_MS[i]) : "+Inf";
}

/** The hash fields one request increments, and by how much. */
export function observationFields(obs: RequestObservation): Record<string, number> {
  const key = `${normalizeMethod(obs.method)} ${obs.route}`;
  const latency = Number.isFinite(obs.latencyMs) && obs.latencyMs > 0 ? obs.latencyMs : 0;
  return {
    [`${key}|${statusClass(obs.status)}`]: 1,
    [`${key}|le:${bucketLabel(bucketIndex(latency))}`]: 1,
    [`${key}|sum_us`]: Math.round(latency * 1000),
  };
}

/**
 * Records one request: one pipeline (one HTTP round trip to Upstash) that increments its fields
 * in its minute's hash and in the totals, and renews both expiries. Rejects when Redis fails:
 * the caller decides (the middleware logs it; the request has been answered already).
 */
export async function recordRequest(redis: Redis, obs: RequestObservation): Promise<void> {
  const fields = observationFields(obs);
  const p = redis.pipeline();
  for (const [key, ttl] of [
    [minuteKey(minuteOf(obs.at)), MINUTE_TTL_SECONDS],
    [TOTAL_KEY, TOTAL_TTL_SECONDS],
  ] as const) {
    for (const [field, by] of Object.entries(fields)) p.hincrby(key, field, by);
    p.expire(key, ttl);
  }
  await p.exec();
}

/** The counts of one route (or of all) over some minutes. */
export interface RouteCounts {
  status: Record<StatusClass, number>;
  /** Non-cumulative bucket counts: LATENCY_BOUNDS_MS.length + 1 (the last is above every bound). */
  buckets: number[];
  sumUs: number;
}

export function emptyCounts(): RouteCounts {
  return {
    status: { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 },
    buckets: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0),
    sumUs: 0,
  };
}

export function countOf(c: RouteCounts): number {
  return STATUS_CLASSES.reduce((n, s) => n + c.status[s], 0);
}

function addInto(into: RouteCounts, from: RouteCounts): void {
  for (const s of STATUS_CLASSES) into.status[s] += from.status[s];
  from.buckets.forEach((n, i) => {
    into.buckets[i]! += n;
  });
  into.sumUs += from.sumUs;
}

/** A hash as Redis gives it back (values as numbers or strings) → counts per route key. */
export function decodeHash(hash: Record<string, unknown> | null | undefined): Map<string, RouteCounts> {
  const out = new Map<string, RouteCounts>();
  if (!hash) return out;
  for (const [field, raw] of Object.entries(hash)) {
    const bar = field.lastIndexOf("|");
    const value = Number(raw);
    if (bar <= 0 || !Number.isFinite(value)) continue;
    const key = field.slice(0, bar);
    const part = field.slice(bar + 1);
    let counts = out.get(key);
    if (!counts) {
      counts = emptyCounts();
      out.set(key, counts);
    }
    if ((STATUS_CLASSES as readonly string[]).includes(part)) counts.status[part as StatusClass] += value;
    else if (part === "sum_us") counts.sumUs += value;
    else if (part.startsWith("le:")) {
      const bound = part.slice(3);
      // A bound written by another version of the bounds lands in the bucket that covers it.
      const i = bound === "+Inf" ? LATENCY_BOUNDS_MS.length : bucketIndex(Number(bound));
      if (i >= 0 && i <= LATENCY_BOUNDS_MS.length) counts.buckets[i]! += value;
    }
  }
  return out;
}

/**
 * The q-quantile (0 < q <= 1) of the latencies counted in `buckets` (non-cumulative), in ms, by
 * linear interpolation inside the bucket holding rank q·N; the first bucket starts at 0. In the
 * overflow bucket the answer is the last bound (nothing above it is known). null when empty.
 */
export function estimateQuantile(
  buckets: readonly number[],
  q: number,
  bounds: readonly number[] = LATENCY_BOUNDS_MS,
): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (!(total > 0) || !(q > 0 && q <= 1)) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i]!;
    if (n > 0 && below + n >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      return lower + ((upper - lower) * (rank - below)) / n;
    }
    below += n;
  }
  return bounds[bounds.length - 1] ?? null;
}

/** Figures of some minutes, for one route or for all. */
export interface RequestStats {
  requests: number;
  status: Record<StatusClass, number>;
  /** Requests per second over the whole window (idle seconds included). */
  qps: number;
  /** 5xx answers / requests; 0 when there were none. */
  errorRate: number;
  /** Latency percentiles and mean in ms; null without requests. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  meanMs: number | null;
}

export function summarize(c: RouteCounts, seconds: number): RequestStats {
  const requests = countOf(c);
  return {
    requests,
    status: { ...c.status },
    qps: seconds > 0 ? requests / seconds : 0,
    errorRate: requests > 0 ? c.status["5xx"] / requests : 0,
    p50: estimateQuantile(c.buckets, 0.5),
    p95: estimateQuantile(c.buckets, 0.95),
    p99: estimateQuantile(c.buckets, 0.99),
    meanMs: requests > 0 ? c.sumUs / 1000 / requests : null,
  };
}

export interface RouteStats extends RequestStats {
  method: string;
  route: string;
}

export interface RequestWindow {
  /** Epoch minutes [fromMinute, toMinute). */
  fromMinute: number;
  toMinute: number;
  overall: RequestStats;
  /** The routes that had requests, by route key. */
  routes: RouteStats[];
}

/** Splits `GET /v1/x/:id` into its method and route template. */
export function splitRouteKey(key: string): { method: string; route: string } {
  const space = key.indexOf(" ");
  return space < 0
    ? { method: "OTHER", route: key }
    : { method: key.slice(0, space), route: key.slice(space + 1) };
}

/** Sums per-route counts and summarizes them (overall and per route) over `seconds`. */
export function windowOf(
  perRoute: Map<string, RouteCounts>,
  fromMinute: number,
  toMinute: number,
): RequestWindow {
  const seconds = (toMinute - fromMinute) * 60;
  const all = emptyCounts();
  const routes: RouteStats[] = [];
  for (const [key, counts] of [...perRoute].sort(([a], [b]) => a.localeCompare(b))) {
    if (countOf(counts) === 0) continue;
    addInto(all, counts);
    routes.push({ ...splitRouteKey(key), ...summarize(counts, seconds) });
  }
  return { fromMinute, toMinute, overall: summarize(all, seconds), routes };
}

/**
 * The request figures of the minutes [fromMinute, toMinute) (epoch minutes): QPS, error rate and
 * latency percentiles, overall and per route. One pipeline of HGETALLs; a missing minute counts
 * as no requests.
 */
export async function readRequestWindow(
  redis: Redis,
  fromMinute: number,
  toMinute: number,
): Promise<RequestWindow> {
  if (!(Number.isInteger(fromMinute) && Number.isInteger(toMinute) && toMinute > fromMinute))
    throw new RangeError("a request window is whole minutes, from < to");
  if (toMinute - fromMinute > MAX_WINDOW_MINUTES)
    throw new RangeError(`a request window spans at most ${MAX_WINDOW_MINUTES} minutes`);
  const p = redis.pipeline();
  for (let m = fromMinute; m < toMinute; m++) p.hgetall(minuteKey(m));
  const hashes = (await p.exec()) as (Record<string, unknown> | null)[];
  const merged = new Map<string, RouteCounts>();
  for (const hash of hashes) {
    for (const [key, counts] of decodeHash(hash)) {
      const into = merged.get(key);
      if (into) addInto(into, counts);
      else merged.set(key, counts);
    }
  }
  return windowOf(merged, fromMinute, toMinute);
}

/** The running totals per route key (GET /metrics' counters and histograms). */
export async function readRequestTotals(redis: Redis): Promise<Map<string, RouteCounts>> {
  return decodeHash(await redis.hgetall<Record<string, unknown>>(TOTAL_KEY));
}
