/**
 * GET /v1/ops/metrics and /v1/ops/metrics/latest, the app in process against a migrated local
 * endpoint on both database backends: admins read the samples of analytics.metricas through
 * app.metricas_serie / app.metricas_recentes (migration 0016) in one round trip; bad input is a
 * 400 (never a 500); everyone else gets 403 before the database is asked, and the database
 * refuses them too. Nothing is cached.
 */
import { neon } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgError } from "../../db/errors";
import type { Auth } from "../../db/session";
import { withAuth } from "../../db/session";
import { createApp } from "../../functions/app";
import { toSeries } from "../../functions/v1/ops/metrics";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, ownerSessions, TEST_SIGNER } from "../harness/db";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import type { Json } from "../harness/http";

const backends = await testBackends();
const MIN = 60_000;
/** A fixed hour for the range tests (the default range is the last hour: see "defaults"). */
const T0 = Date.parse("2026-03-01T12:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

describe.each(backends)("GET /v1/ops/metrics on $name", ({ name, skip }) => {
  let db: TestEndpoint;
  let fx: Fixture;
  let env: Record<string, string>;
  const app = createApp();
  const admin: Auth = { userId: crypto.randomUUID(), role: "admin" };
  /** The newest samples, written relative to now in beforeAll. */
  let now = 0;

  beforeAll(async () => {
    if (skip) return;
    db = await startTestEndpoint(name, { prefix: "ops_metrics", migrate: true });
    env = { NEON_FETCH_ENDPOINT: db.endpoint.sqlUrl, DATABASE_URL: db.appUrl };
    const owner = ownerSessions(db.ownerUrl);
    fx = await createFixture(owner);
    now = Math.floor(Date.now() / MIN) * MIN;
    await owner.system(async (c) => {
      // The fixed hour: p95 = minute index, p50 = half of it; connections by state.
      await c.query(
        `INSERT INTO analytics.metricas (metrica, rotulos, em, valor)
         SELECT m.metrica, m.rotulos::jsonb, $1::timestamptz + make_interval(mins => i), m.f * i
           FROM generate_series(0, 59) AS i,
                (VALUES ('api_latency_p95_ms', '{}', 1.0), ('api_latency_p50_ms', '{}', 0.5),
                        ('db_connections', '{"state":"idle"}', 2.0),
                        ('db_connections', '{"state":"active"}', 1.0)) AS m(metrica, rotulos, f)`,
        [iso(T0)],
      );
      // Recent samples: the default range and "latest". A stale one (2 days old) and an odd label.
      await c.query(
        `INSERT INTO analytics.metricas (metrica, rotulos, em, valor) VALUES
           ('api_requests_per_second', '{}', $1, 10), ('api_requests_per_second', '{}', $2, 12.5),
           ('db_size_bytes', '{}', $2, 123456789), ('db_cache_hit_ratio', '{}', $3, 0.5),
           ('db_connections', '{"state":"active"}', $2, 3), ('db_connections', '{"state":"idle"}', $2, 7),
           ('replica_lag_seconds', '{"replica":1}', $2, 0.25)`,
        [iso(now - 2 * MIN), iso(now - MIN), iso(now - 2 * 24 * 60 * MIN)],
      );
    });
    await owner.end();
  });
  afterAll(async () => {
    await db?.close();
  });

  const call = async (path: string, who: Auth | null = admin) => {
    const before = db.endpoint.stats.sqlRequests;
    const token = who ? await tokenFor(who, IN_PROCESS_ENV.JWT_SECRET!) : null;
    const res = await requestApp(
      app,
      path,
      token ? { headers: { authorization: `Bearer ${token}` } } : {},
      env,
    );
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Json,
      roundTrips: db.endpoint.stats.sqlRequests - before,
    };
  };
  const range = (metrics: string[], from: number, to: number) =>
    `/v1/ops/metrics?${metrics.map((m) => `metric=${m}`).join("&")}&from=${iso(from)}&to=${iso(to)}`;

  it.skipIf(skip)(
    "a range: one series per metric and label set, [epoch_ms, value] oldest first",
    async () => {
      const res = await call(range(["api_latency_p95_ms", "db_connections"], T0 + 10 * MIN, T0 + 12 * MIN));
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.roundTrips).toBe(1);
      expect(res.body).toEqual({
        from: "2026-03-01T12:10:00.000Z",
        to: "2026-03-01T12:12:00.000Z",
        truncated: false,
        series: [
          {
            metric: "api_latency_p95_ms",
            labels: {},
            points: [
              [T0 + 10 * MIN, 10],
              [T0 + 11 * MIN, 11],
              [T0 + 12 * MIN, 12],
            ],
          },
          {
            metric: "db_connections",
            labels: { state: "active" },
            points: [
              [T0 + 10 * MIN, 10],
              [T0 + 11 * MIN, 11],
              [T0 + 12 * MIN, 12],
            ],
          },
          {
            metric: "db_connections",
            labels: { state: "idle" },
            points: [
              [T0 + 10 * MIN, 20],
              [T0 + 11 * MIN, 22],
              [T0 + 12 * MIN, 24],
            ],
          },
        ],
      });
    },
  );

  it.skipIf(skip)("one metric, a repeated name, an offset, and a metric with no samples", async () => {
    const one = await call(range(["api_latency_p50_ms"], T0, T0 + 59 * MIN));
    expect(one.status).toBe(200);
    expect(one.body.series).toHaveLength(1);
    expect(one.body.series[0].points).toHaveLength(60);
    expect(one.body.series[0].points[59]).toEqual([T0 + 59 * MIN, 29.5]);

    const twice = await call(
      "/v1/ops/metrics?metric=api_latency_p50_ms&metric=api_latency_p50_ms" +
        "&from=2026-03-01T09:00:00-03:00&to=2026-03-01T09:01:00-03:00",
    );
    expect(twice.status).toBe(200);
    expect(twice.body.from).toBe("2026-03-01T12:00:00.000Z");
    expect(twice.body.series).toEqual([
      {
        metric: "api_latency_p50_ms",
        labels: {},
        points: [
          [T0, 0],
          [T0 + MIN, 0.5],
        ],
      },
    ]);

    const none = await call(range(["no_such_metric"], T0, T0 + 59 * MIN));
    expect(none.status).toBe(200);
    expect(none.body.series).toEqual([]);
  });

  it.skipIf(skip)("defaults: the last hour up to now; a sample outside it is left out", async () => {
    const before = Date.now();
    const res = await call("/v1/ops/metrics?metric=api_requests_per_second&metric=db_cache_hit_ratio");
    expect(res.status).toBe(200);
    const to = Date.parse(res.body.to);
    expect(to).toBeGreaterThanOrEqual(before);
    expect(to - Date.parse(res.body.from)).toBe(60 * MIN);
    expect(res.body.series).toEqual([
      {
        metric: "api_requests_per_second",
        labels: {},
        points: [
          [now - 2 * MIN, 10],
          [now - MIN, 12.5],
        ],
      },
    ]);
    // Exactly 31 days is allowed (the database's own limit, to the microsecond).
    const longest = await call(range(["api_latency_p95_ms"], T0 - 31 * 24 * 60 * MIN, T0));
    expect(longest.status).toBe(200);
    expect(longest.body.series[0].points).toEqual([[T0, 0]]);
  });

  it.skipIf(skip)("latest: the newest sample of every metric and label set in the window", async () => {
    const res = await call("/v1/ops/metrics/latest");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.roundTrips).toBe(1);
    expect(res.body).toEqual({
      window_minutes: 15,
      data: [
        { metric: "api_requests_per_second", labels: {}, at: iso(now - MIN), value: 12.5 },
        { metric: "db_connections", labels: { state: "active" }, at: iso(now - MIN), value: 3 },
        { metric: "db_connections", labels: { state: "idle" }, at: iso(now - MIN), value: 7 },
        { metric: "db_size_bytes", labels: {}, at: iso(now - MIN), value: 123456789 },
        // A label value that is not a string comes out as its JSON text.
        { metric: "replica_lag_seconds", labels: { replica: "1" }, at: iso(now - MIN), value: 0.25 },
      ],
    });
    const some = await call("/v1/ops/metrics/latest?metric=db_size_bytes&metric=db_cache_hit_ratio");
    expect(some.body.data).toEqual([
      { metric: "db_size_bytes", labels: {}, at: iso(now - MIN), value: 123456789 },
    ]);
    // A day's window reaches the stale sample; the fixed hour (in the past) stays out.
    const day = await call("/v1/ops/metrics/latest?window_minutes=1440&metric=db_cache_hit_ratio");
    expect(day.body).toEqual({ window_minutes: 1440, data: [] });
    const wider = await call("/v1/ops/metrics/latest?window_minutes=1440");
    expect(wider.body.data.map((s: Json) => s.metric)).not.toContain("api_latency_p95_ms");
  });

  it.skipIf(skip)("bad input answers 400 in the error model, before the database is asked", async () => {
    const bad = [
      "/v1/ops/metrics",
      "/v1/ops/metrics?metric=",
      "/v1/ops/metrics?metric=Api_Latency",
      "/v1/ops/metrics?metric=a;drop%20table%20x",
      "/v1/ops/metrics?metric=a%27--",
      `/v1/ops/metrics?metric=${"a".repeat(101)}`,
      `/v1/ops/metrics?${Array.from({ length: 21 }, (_, i) => `metric=m${i}`).join("&")}`,
      "/v1/ops/metrics?metric=a&from=yesterday",
      "/v1/ops/metrics?metric=a&from=2026-03-01",
      "/v1/ops/metrics?metric=a&from=2026-03-01T12:00:00",
      "/v1/ops/metrics?metric=a&from=1999-12-31T00:00:00Z&to=2000-01-01T00:00:00Z",
      "/v1/ops/metrics?metric=a&from=0000-01-01T00:00:00Z&to=0000-01-02T00:00:00Z",
      "/v1/ops/metrics?metric=a&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
      `/v1/ops/metrics?metric=a&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00.001Z`,
      "/v1/ops/metrics?metric=a&from=2020-01-01T00:00:00Z",
      "/v1/ops/metrics/latest?window_minutes=0",
      "/v1/ops/metrics/latest?window_minutes=1441",
      "/v1/ops/metrics/latest?window_minutes=1.5",
      "/v1/ops/metrics/latest?window_minutes=abc",
      "/v1/ops/metrics/latest?metric=BAD",
    ];
    for (const path of bad) {
      const res = await call(path);
      expect(res.status, path).toBe(400);
      expect(res.body.error, path).toMatchObject({ code: "bad_request", request_id: expect.any(String) });
      expect(res.headers.get("cache-control"), path).toBe("no-store");
      expect(res.roundTrips, path).toBe(0);
    }
    // Microseconds beyond the 31 days the database counts: cut to the millisecond, no 500.
    const micro = await call(
      "/v1/ops/metrics?metric=a&from=2026-01-01T00:00:00.000Z&to=2026-02-01T00:00:00.000999Z",
    );
    expect(micro.status).toBe(200);
    expect(micro.body.to).toBe("2026-02-01T00:00:00.000Z");
  });

  it.skipIf(skip)(
    "a fisioterapeuta and a paciente get 403, no token 401, nothing asked of the database",
    async () => {
      for (const who of [
        { userId: fx.fisioA, role: "fisioterapeuta" } as Auth,
        { userId: fx.pacA, role: "paciente" } as Auth,
      ]) {
        for (const path of [range(["api_latency_p95_ms"], T0, T0 + MIN), "/v1/ops/metrics/latest"]) {
          const res = await call(path, who);
          expect(res.status, `${who.role} ${path}`).toBe(403);
          expect(res.body.error.code).toBe("forbidden");
          expect(res.body).not.toHaveProperty("series");
          expect(res.body).not.toHaveProperty("data");
          expect(res.headers.get("cache-control")).toBe("no-store");
          expect(res.roundTrips).toBe(0);
        }
      }
      const anonymous = await call("/v1/ops/metrics/latest", null);
      expect(anonymous.status).toBe(401);
      expect(anonymous.roundTrips).toBe(0);
    },
  );

  it.skipIf(skip)(
    "the database is the guarantee: a non-admin identity gets 42501 from both functions",
    async () => {
      const sql = neon(db.appUrl);
      for (const auth of [
        { userId: fx.fisioA, role: "fisioterapeuta" } as Auth,
        { userId: fx.pacA, role: "paciente" } as Auth,
      ]) {
        for (const text of [
          "SELECT * FROM app.metricas_serie(ARRAY['api_latency_p95_ms'], now() - interval '1 hour', now())",
          "SELECT * FROM app.metricas_recentes(interval '15 minutes')",
          "SELECT * FROM analytics.metricas",
        ]) {
          const refused = await withAuth(sql, { auth, signer: TEST_SIGNER }, (q) => [q.query(text)]).catch(
            (err: unknown) => err,
          );
          expect(pgError(refused)?.code, `${auth.role}: ${text}`).toBe("42501");
        }
      }
    },
  );
});

describe("toSeries", () => {
  it("groups consecutive rows by metric and label set (labels as strings, {} for none)", () => {
    expect(
      toSeries([
        { metrica: "a", rotulos: {}, t: 1, valor: 1 },
        { metrica: "a", rotulos: {}, t: 2, valor: 2 },
        { metrica: "a", rotulos: { x: "1" }, t: 1, valor: 3 },
        { metrica: "b", rotulos: { x: "1" }, t: 1, valor: 4 },
        { metrica: "b", rotulos: null, t: 5, valor: 5 },
      ]),
    ).toEqual([
      {
        metric: "a",
        labels: {},
        points: [
          [1, 1],
          [2, 2],
        ],
      },
      { metric: "a", labels: { x: "1" }, points: [[1, 3]] },
      { metric: "b", labels: { x: "1" }, points: [[1, 4]] },
      { metric: "b", labels: {}, points: [[5, 5]] },
    ]);
  });
});
