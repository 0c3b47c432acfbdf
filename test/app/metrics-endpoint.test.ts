/**
 * GET /metrics on both backends, the app in process over a migrated local endpoint and the
 * Upstash Redis emulator: after a metrics poll and some requests, the exposition parses
 * (parse-prometheus-text-format, the strict checks of test/harness/prometheus.ts, and
 * `promtool check metrics` when it is installed) and holds the poll's latest values and the live
 * request counters; it is for the metrics token or an admin only, and a source that cannot be read
 * is reported instead of failing the scrape.
 */
import { Redis } from "@upstash/redis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { createApp } from "../../functions/app";
import { PROMETHEUS_CONTENT_TYPE } from "../../functions/metrics/prometheus";
import { metricsPoll } from "../../jobs/metrics/index";
import type { JobContext } from "../../jobs/types";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { type Cloud, startCloud } from "../harness/cloud";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import { parsePrometheus, promtoolCheck, strictExpositionErrors } from "../harness/prometheus";
import { signQStash } from "../harness/qstash";

const backends = await testBackends();
const METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef";
const AWKWARD = 'a "quoted" \\ back\nslash';

describe.each(backends)("GET /metrics on $name", ({ name, skip }) => {
  let t: TestEndpoint;
  let emu: UpstashRedisEmulator;
  let env: Record<string, string>;
  const app = createApp();
  const scrape = (headers: Record<string, string>, over: Record<string, string> = {}) =>
    requestApp(app, "/metrics", { headers }, { ...env, ...over });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const jwt = (role: "admin" | "fisioterapeuta") =>
    tokenFor({ userId: crypto.randomUUID(), role }, IN_PROCESS_ENV.JWT_SECRET!);

  beforeAll(async () => {
    if (skip) return;
    t = await startTestEndpoint(name, { prefix: "metrics_endpoint", migrate: true });
    emu = await startUpstashRedis({ port: 0 });
    env = {
      NEON_FETCH_ENDPOINT: t.endpoint.sqlUrl,
      DATABASE_URL: t.appUrl,
      UPSTASH_REDIS_REST_URL: emu.url,
      UPSTASH_REDIS_REST_TOKEN: emu.token,
      METRICS_TOKEN,
    };
    const redis = new Redis({ url: emu.url, token: emu.token, enableTelemetry: false });
    // Requests for the live counters, then a poll of this minute and a few hand-made samples.
    for (let i = 0; i < 3; i++) await requestApp(app, `/v1/pacientes/${crypto.randomUUID()}`, {}, env);
    await requestApp(app, "/openapi.json", {}, env);
    const result = await metricsPoll.run(
      {
        logger: { info() {}, warn() {}, error() {} },
        clock: { now: () => new Date() },
        redis: redis as unknown as JobContext["redis"],
        ownerUrl: t.ownerUrl,
        publisher: null,
        messageId: "msg_metrics_endpoint",
        retried: 0,
        waitUntil: () => {},
      },
      metricsPoll.payload.parse({}),
    );
    expect(result.status).toBe("done");
    const owner = new pg.Client({ connectionString: t.ownerUrl });
    await owner.connect();
    try {
      await owner.query(
        `INSERT INTO analytics.metricas (metrica, rotulos, em, valor) VALUES
           ('probe_metric', jsonb_build_object('v', 'old'), now() - interval '2 minutes', 1),
           ('probe_metric', jsonb_build_object('v', 'new', 'odd', $1::text, '9-lives', 'x'), now() - interval '1 minute', 2),
           ('stale_metric', '{}', now() - interval '10 minutes', 3)`,
        [AWKWARD],
      );
    } finally {
      await owner.end();
    }
  });
  afterAll(async () => {
    await emu?.close();
    await t?.close();
  });

  it.skipIf(skip)(
    "parses, holds the latest poll and the live counters, and passes the strict checks",
    async () => {
      const res = await scrape(bearer(METRICS_TOKEN));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(PROMETHEUS_CONTENT_TYPE);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const text = await res.text();
      expect(strictExpositionErrors(text)).toEqual([]);
      const promtool = promtoolCheck(text);
      if (promtool) expect(promtool).toEqual([]);

      const families = new Map(parsePrometheus(text).map((f) => [f.name, f]));
      const value = (family: string, labels: Record<string, string> = {}) =>
        Number(
          families
            .get(family)
            ?.metrics.find(
              (m) =>
                JSON.stringify(Object.entries(m.labels ?? {}).sort()) ===
                JSON.stringify(Object.entries(labels).sort()),
            )?.value,
        );
      for (const family of [
        "db_size_bytes",
        "db_connections",
        "db_connections_ratio",
        "db_cache_hit_ratio",
        "consultas_partitions_months_ahead",
        "api_requests_per_second",
        "api_error_rate",
        "metrics_poll_duration_seconds",
        "http_requests_total",
        "http_request_duration_seconds",
        "fisioflow_metrics_store_up",
        "fisioflow_request_counters_up",
        "fisioflow_metrics_poll_age_seconds",
      ]) {
        expect(families.has(family), family).toBe(true);
      }
      expect(families.get("db_size_bytes")).toMatchObject({
        type: "GAUGE",
        help: expect.stringContaining("Size"),
      });
      expect(families.get("db_blocks_hit_total")?.type).toBe("COUNTER");
      expect(families.get("http_requests_total")?.type).toBe("COUNTER");
      expect(families.get("http_request_duration_seconds")?.type).toBe("HISTOGRAM");
      expect(value("db_size_bytes")).toBeGreaterThan(1_000_000);
      expect(value("db_connections", { state: "active" })).toBeGreaterThanOrEqual(0);
      expect(value("consultas_partitions_months_ahead")).toBe(3);
      expect(value("fisioflow_metrics_store_up")).toBe(1);
      expect(value("fisioflow_request_counters_up")).toBe(1);
      expect(value("fisioflow_metrics_poll_age_seconds")).toBeLessThan(120);
      expect(value("http_requests_total", { method: "GET", route: "/v1/pacientes/:id", status: "4xx" })).toBe(
        3,
      );
      expect(value("http_requests_total", { method: "GET", route: "/openapi.json", status: "2xx" })).toBe(1);
      expect(text).toContain(
        'http_request_duration_seconds_count{method="GET",route="/v1/pacientes/:id"} 3\n',
      );

      // Only each metric's newest poll, labels escaped and back, names made valid; nothing stale.
      expect(families.get("probe_metric")?.metrics).toEqual([
        { labels: { _9_lives: "x", odd: AWKWARD, v: "new" }, value: "2" },
      ]);
      expect(families.has("stale_metric")).toBe(false);
      // A scrape is not a request the API figures count.
      expect(text).not.toMatch(/route="\/metrics"/);
    },
  );

  it.skipIf(skip)("is for the metrics token or an admin only", async () => {
    expect((await scrape(bearer(await jwt("admin")))).status).toBe(200);
    const forbidden = await scrape(bearer(await jwt("fisioterapeuta")));
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    for (const headers of [
      {},
      bearer("not-the-token"),
      bearer(`${METRICS_TOKEN}x`),
      { authorization: METRICS_TOKEN },
    ]) {
      const res = await scrape(headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(await res.text()).not.toContain("db_size_bytes");
    }
    // Without METRICS_TOKEN configured the token opens nothing; a short one is a bad environment.
    expect((await scrape(bearer(METRICS_TOKEN), { METRICS_TOKEN: "" })).status).toBe(401);
    const short = await scrape(bearer("short"), { METRICS_TOKEN: "short" });
    expect(short.status).toBe(500);
    expect(
      ((await short.json()) as { error: { code: string; details: { keys: string[] } } }).error,
    ).toMatchObject({
      code: "bad_environment",
      details: { keys: ["METRICS_TOKEN"] },
    });
  });

  it.skipIf(skip)("reports a source it cannot read instead of failing the scrape", async () => {
    // Nothing listens on port 9: the driver sends a localhost connection string to that port.
    const noStore = await scrape(bearer(METRICS_TOKEN), {
      DATABASE_URL: "postgresql://fisioflow_app:pw@localhost:9/x",
    });
    expect(noStore.status).toBe(200);
    const a = await noStore.text();
    expect(strictExpositionErrors(a)).toEqual([]);
    expect(a).toContain("fisioflow_metrics_store_up 0\n");
    expect(a).toContain("fisioflow_request_counters_up 1\n");
    expect(a).not.toContain("db_size_bytes");
    expect(a).toContain("http_requests_total{");

    const noRedis = await scrape(bearer(METRICS_TOKEN), {
      UPSTASH_REDIS_REST_URL: "",
      UPSTASH_REDIS_REST_TOKEN: "",
    });
    expect(noRedis.status).toBe(200);
    const b = await noRedis.text();
    expect(strictExpositionErrors(b)).toEqual([]);
    expect(b).toContain("fisioflow_metrics_store_up 1\n");
    expect(b).toContain("fisioflow_request_counters_up 0\n");
    expect(b).not.toContain("http_requests_total");
    expect(parsePrometheus(b).some((f) => f.name === "db_size_bytes")).toBe(true);
  });
});

const pglite = backends.find((b) => b.name === "pglite")!;

describe.skipIf(pglite.skip)("request metrics, the poll and GET /metrics in workerd", () => {
  let cloud: Cloud;
  beforeAll(async () => {
    cloud = await startCloud({ backend: "pglite", vars: { METRICS_TOKEN } });
  });
  afterAll(async () => {
    await cloud?.close();
  });

  it("counts the worker's requests by template, runs the poll once per minute, and scrapes", async () => {
    for (let i = 0; i < 2; i++) {
      expect((await fetch(`${cloud.workerUrl}/v1/consultas/${crypto.randomUUID()}`)).status).toBe(401);
    }
    const url = `${cloud.workerUrl}/jobs/metrics-poll`;
    const deliver = async () =>
      fetch(url, {
        method: "POST",
        body: "{}",
        headers: {
          "content-type": "application/json",
          "upstash-signature": await signQStash(cloud.qstash.currentSigningKey, url, "{}"),
          "upstash-message-id": `msg_${crypto.randomUUID()}`,
        },
      });
    const first = (await (await deliver()).json()) as { status: string; minute: string };
    expect(first.status).toBe("done");
    const second = (await (await deliver()).json()) as { status: string; minute: string };
    // A second message for the same minute (unless the minute just turned) writes nothing.
    if (second.minute === first.minute) expect(second.status).toBe("skipped");

    // The counters are sent after each answer (waitUntil): wait for them to land.
    await expect
      .poll(async () => {
        const res = await fetch(`${cloud.workerUrl}/metrics`, {
          headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        });
        return res.text();
      })
      .toContain('http_requests_total{method="GET",route="/v1/consultas/:id",status="4xx"} 2\n');
    const text = await (
      await fetch(`${cloud.workerUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    ).text();
    expect(strictExpositionErrors(text)).toEqual([]);
    const names = parsePrometheus(text).map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining(["db_size_bytes", "db_connections_ratio", "http_requests_total"]),
    );
    expect(text).toContain("fisioflow_metrics_store_up 1\n");
    expect(text).not.toContain("/jobs/");
  });
});
