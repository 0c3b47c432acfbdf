/**
 * The request-metrics middleware and its reader, with the app in process and the Upstash Redis
 * emulator (in-memory, and over a real redis-server): counts, status classes and latency per
 * route TEMPLATE (never a path with ids), /health and /metrics left out, percentiles, QPS and
 * error rate read back from known latencies, and Redis absent, down or hanging never touching
 * the answer.
 *
 * The real-Redis run uses logical db 12 (no other suite writes there; never flushed): the minute
 * keys are shared by every app in that db, and these assertions count exactly.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "@upstash/redis";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { createApp } from "../../functions/app";
import type { AppEnv } from "../../functions/context";
import { createLogger } from "../../functions/lib/logger";
import { requestMetrics, routeTemplate } from "../../functions/middleware/request-metrics";
import type { Services } from "../../functions/services";
import {
  bucketIndex,
  estimateQuantile,
  LATENCY_BOUNDS_MS,
  MINUTE_TTL_SECONDS,
  minuteKey,
  minuteOf,
  readRequestTotals,
  readRequestWindow,
  TOTAL_KEY,
} from "../../jobs/metrics/requests";
import { executionContext, requestApp } from "../harness/app";
import { REDIS_TEST_DB, testRedisBackends } from "../harness/redis";

const REDIS_DB = REDIS_TEST_DB.requestMetrics;
const stores = await testRedisBackends();

/** The window that surely holds requests made between `t0` and now (a minute may have turned). */
const windowSince = (redis: Redis, t0: number) =>
  readRequestWindow(redis as never, minuteOf(t0), minuteOf(Date.now()) + 1);

describe.each(stores)("request metrics on the $name store", ({ redisUrl, skip }) => {
  let emu: UpstashRedisEmulator;
  let redis: Redis;
  let env: Record<string, string>;
  beforeAll(async () => {
    if (skip) return;
    emu = await startUpstashRedis({ port: 0, redisUrl: redisUrl(REDIS_DB) });
    redis = new Redis({ url: emu.url, token: emu.token, enableTelemetry: false });
    env = {
      UPSTASH_REDIS_REST_URL: emu.url,
      UPSTASH_REDIS_REST_TOKEN: emu.token,
      // Nothing listens there: /health's database check fails at once instead of reaching out.
      NEON_FETCH_ENDPOINT: "http://127.0.0.1:9/sql",
    };
  });
  afterAll(async () => {
    await emu?.close();
  });

  it.skipIf(skip)(
    "records every route by its template, never a raw path, and leaves /health out",
    async () => {
      const app = createApp();
      const t0 = Date.now();
      const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
      const totalsBefore = await readRequestTotals(redis as never);
      const before = await windowSince(redis, t0);
      const statuses = [
        (await requestApp(app, `/v1/pacientes/${ids[0]}`, {}, env)).status,
        (await requestApp(app, `/v1/pacientes/${ids[1]}`, {}, env)).status,
        (await requestApp(app, `/v1/pacientes/${ids[2]}/exercicios`, { method: "POST" }, env)).status,
        (await requestApp(app, `/no/such/${ids[0]}`, {}, env)).status,
        (await requestApp(app, "/openapi.json", {}, env)).status,
        (await requestApp(app, "/health", {}, env)).status,
        (await requestApp(app, "/metrics", {}, env)).status,
      ];
      expect(statuses).toEqual([401, 401, 401, 404, 200, 503, 401]);

      // What these requests added (a rerun within the minute finds the earlier run's counts there).
      const after = await windowSince(redis, t0);
      const added = (key: string, status: "2xx" | "4xx") => {
        const of = (w: typeof after) =>
          w.routes.find((r) => `${r.method} ${r.route}` === key)?.status[status] ?? 0;
        return of(after) - of(before);
      };
      const requestsOf = (w: typeof after, key: string) =>
        w.routes.find((r) => `${r.method} ${r.route}` === key)?.requests ?? 0;
      const grew = after.routes
        .map((r) => `${r.method} ${r.route}`)
        .filter((key) => requestsOf(after, key) > requestsOf(before, key));
      // Templates only: the ids of the paths, /health and /metrics appear nowhere.
      expect(grew.sort()).toEqual(
        [
          "GET /openapi.json",
          "GET /v1/pacientes/:id",
          "GET unmatched",
          "POST /v1/pacientes/:id/exercicios",
        ].sort(),
      );
      expect(added("GET /v1/pacientes/:id", "4xx")).toBe(2);
      expect(added("GET /v1/pacientes/:id", "2xx")).toBe(0);
      expect(added("POST /v1/pacientes/:id/exercicios", "4xx")).toBe(1);
      expect(added("GET /openapi.json", "2xx")).toBe(1);
      expect(added("GET unmatched", "4xx")).toBe(1);
      expect(after.overall.requests - before.overall.requests).toBe(5);

      // The stored fields themselves: templates only, no id anywhere, and both keys expire.
      const keys = [...new Set([minuteKey(minuteOf(t0)), minuteKey(minuteOf(Date.now()))])];
      const fields = (await Promise.all(keys.map((k) => redis.hkeys(k)))).flat();
      expect(fields.length).toBeGreaterThan(0);
      for (const id of ids) expect(fields.join("\n")).not.toContain(id);
      expect(fields.some((f) => f.includes("/health") || f.includes("/metrics"))).toBe(false);
      const ttl = await redis.ttl(keys[0]!);
      expect(ttl).toBeGreaterThan(MINUTE_TTL_SECONDS - 60);
      expect(ttl).toBeLessThanOrEqual(MINUTE_TTL_SECONDS);
      expect(await redis.ttl(TOTAL_KEY)).toBeGreaterThan(0);

      // The running totals grew by the same requests.
      const totalsAfter = await readRequestTotals(redis as never);
      const grown = (key: string) =>
        (totalsAfter.get(key)?.status["4xx"] ?? 0) - (totalsBefore.get(key)?.status["4xx"] ?? 0);
      expect(grown("GET /v1/pacientes/:id")).toBe(2);
    },
  );

  it.skipIf(skip)("reads back QPS, error rate and p50/p95/p99 of known latencies", async () => {
    // A clock the handler moves: each request takes exactly the latency it asks for.
    let clock = 0;
    const now = vi.spyOn(performance, "now").mockImplementation(() => clock);
    const app = new Hono<AppEnv>();
    app.use("*", requestMetrics);
    app.use("*", async (c, next) => {
      c.set("services", { redis, logger: createLogger("error") } as unknown as Services);
      await next();
    });
    // A route of its own per run: the real-Redis db may hold an earlier run's minute.
    const route = `/items-${crypto.randomUUID().slice(0, 8)}/:id`;
    app.get(route, (c) => {
      clock += Number(c.req.query("ms"));
      return c.text("x", c.req.query("fail") ? 500 : 200);
    });
    const latencies = Array.from({ length: 200 }, (_, i) => ((i * 37) % 200) * 2.5 + 0.4); // 0.4 … 497.9 ms
    const t0 = Date.now();
    try {
      for (const [i, ms] of latencies.entries()) {
        const ctx = executionContext();
        const res = await app.request(
          `${route.replace(":id", crypto.randomUUID())}?ms=${ms}${i % 20 === 0 ? "&fail=1" : ""}`,
          {},
          {},
          ctx,
        );
        await ctx.settled();
        expect(res.status).toBe(i % 20 === 0 ? 500 : 200);
      }
    } finally {
      now.mockRestore();
    }
    const w = await windowSince(redis, t0);
    const r = w.routes.find((x) => x.route === route && x.method === "GET")!;
    expect(r.requests).toBe(200);
    expect(r.errorRate).toBeCloseTo(10 / 200, 12);
    expect(r.qps).toBeCloseTo(200 / ((w.toMinute - w.fromMinute) * 60), 12);
    expect(r.meanMs).toBeCloseTo(latencies.reduce((a, b) => a + b, 0) / 200, 3);

    const buckets = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
    for (const l of latencies) buckets[bucketIndex(l)]! += 1;
    const sorted = [...latencies].sort((a, b) => a - b);
    for (const [q, est] of [
      [0.5, r.p50],
      [0.95, r.p95],
      [0.99, r.p99],
    ] as const) {
      expect(est, `p${q * 100}`).toBe(estimateQuantile(buckets, q));
      // The estimate sits in the bucket of the true value (nearest rank), so within a factor 1.47.
      const truth = sorted[Math.ceil(q * sorted.length) - 1]!;
      const i = bucketIndex(truth);
      expect(est!).toBeGreaterThan(i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!);
      expect(est!).toBeLessThanOrEqual(LATENCY_BOUNDS_MS[i]!);
    }
    expect(r.p50).toBeGreaterThan(200);
    expect(r.p50).toBeLessThan(316);
    expect(r.p99).toBeGreaterThan(464);
    expect(r.p99).toBeLessThanOrEqual(681);
  });
});

describe("request metrics without a working Redis", () => {
  const ids = () => crypto.randomUUID();

  it("answers exactly as before with no Redis configured, and with no ExecutionContext at all", async () => {
    const app = createApp();
    expect((await requestApp(app, `/v1/pacientes/${ids()}`)).status).toBe(401);
    expect((await requestApp(app, "/openapi.json")).status).toBe(200);
    // app.request without an ExecutionContext: c.executionCtx throws; the middleware copes.
    const res = await app.request(
      "/openapi.json",
      {},
      { ...(await import("../harness/app")).IN_PROCESS_ENV },
    );
    expect(res.status).toBe(200);
  });

  it("sends nothing on the response path: a Redis that never answers does not delay the answer, and is logged", async () => {
    const held: http.ServerResponse[] = [];
    let received = 0;
    let release = false;
    const hanging = http.createServer((_req, res) => {
      received++;
      // Held until released; then every call (the client's retry too) is cut off.
      if (release) res.socket?.destroy();
      else held.push(res);
    });
    await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((l: string) => void lines.push(String(l)));
    try {
      const app = createApp();
      const ctx = executionContext();
      const env = {
        ...(await import("../harness/app")).IN_PROCESS_ENV,
        UPSTASH_REDIS_REST_URL: url,
        UPSTASH_REDIS_REST_TOKEN: "x",
        LOG_LEVEL: "warn",
      };
      const started = performance.now();
      const res = await app.request("/openapi.json", {}, env, ctx);
      expect(res.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(5000);
      // The pipeline went out after the answer and is still waiting.
      await vi.waitFor(() => expect(received).toBe(1));
      release = true;
      for (const r of held) r.socket?.destroy();
      await ctx.settled();
      await vi.waitFor(() => expect(lines.some((l) => l.includes('"request_metrics_degraded"'))).toBe(true));
    } finally {
      log.mockRestore();
      await new Promise<void>((r) => hanging.close(() => r()));
    }
  });

  it("takes the route template from the router even when a middleware answered first", async () => {
    const app = new Hono();
    const seen: string[] = [];
    app.use("*", async (c, next) => {
      await next();
      seen.push(routeTemplate(c));
    });
    app.use("/v1/*", async (c) => c.text("no", 401));
    app.get("/v1/things/:id", (c) => c.text("ok"));
    app.post("/v1/things", (c) => c.text("ok"));
    await app.request(`/v1/things/${ids()}`);
    await app.request("/v1/things", { method: "POST" });
    await app.request("/v1/things", { method: "DELETE" });
    await app.request(`/elsewhere/${ids()}`);
    expect(seen).toEqual(["/v1/things/:id", "/v1/things", "unmatched", "unmatched"]);
  });
});
