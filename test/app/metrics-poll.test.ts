/**
 * The metrics-poll job on both backends (a migrated local endpoint with the local Neon API, the
 * Upstash Redis emulator): one row per metric and label set for the minute with plausible values
 * (database, partitions, migration lag, the API's figures from Redis), a duplicate or concurrent
 * delivery writing nothing more, the retention purge, pg_stat_statements loaded (PGlite), not
 * loaded or not installed (PostgreSQL), replicas that cannot be measured locally, and no owner
 * URL, no Redis or a Redis that is down. Each run goes through `metricsPoll.run(ctx)` with a
 * clock the test sets (one minute per run).
 */
import { Redis } from "@upstash/redis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { METRICS, type MetricInfo } from "../../jobs/metrics/catalog";
import { measureStatements } from "../../jobs/metrics/database";
import { metricsPoll } from "../../jobs/metrics/index";
import { bucketIndex, LATENCY_BOUNDS_MS, recordRequest } from "../../jobs/metrics/requests";
import { NeonControlPlane } from "../../jobs/neon/api";
import type { JobContext } from "../../jobs/types";
import { postgresAdminUrl, testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import { jobContext } from "../harness/job-context";

const backends = await testBackends();
const MINUTE = 60_000;

interface Row {
  metrica: string;
  rotulos: Record<string, string>;
  valor: number;
}

const context = jobContext;

describe.each(backends)("metrics-poll job on $name", ({ name, skip }) => {
  let t: TestEndpoint;
  let owner: pg.Client;
  let emu: UpstashRedisEmulator;
  let redis: Redis;
  let neon: NeonControlPlane;
  // Past minutes, one per run, counting down from the last complete one.
  const base = Math.floor(Date.now() / MINUTE) * MINUTE;
  let nextOffset = 1;
  const freshMinute = () => new Date(base - nextOffset++ * MINUTE + 7_000);
  const run = (now: Date, over: Partial<JobContext> = {}, payload = {}) =>
    metricsPoll.run(
      context({ now, ownerUrl: t.ownerUrl, redis: redis as unknown as JobContext["redis"], neon, ...over }),
      metricsPoll.payload.parse(payload),
    );
  const rowsAt = async (now: Date): Promise<Row[]> =>
    (
      await owner.query<Row>(
        "SELECT metrica, rotulos, valor FROM analytics.metricas WHERE em = $1 ORDER BY metrica, rotulos::text",
        [new Date(Math.floor(now.getTime() / MINUTE) * MINUTE)],
      )
    ).rows;
  // jsonb orders an object's keys its own way: compare label sets with sorted keys.
  const sorted = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort());
  const one = (rows: Row[], metric: string, labels: Record<string, string> = {}) => {
    const found = rows.filter((r) => r.metrica === metric && sorted(r.rotulos) === sorted(labels));
    expect(found, `${metric} ${JSON.stringify(labels)}`).toHaveLength(1);
    return found[0]!.valor;
  };

  beforeAll(async () => {
    if (skip) return;
    t = await startTestEndpoint(name, { prefix: "metrics_poll", migrate: true, neonApi: true });
    owner = new pg.Client({ connectionString: t.ownerUrl });
    await owner.connect();
    emu = await startUpstashRedis({ port: 0 });
    redis = new Redis({ url: emu.url, token: emu.token, enableTelemetry: false });
    const api = t.neonApi!;
    neon = new NeonControlPlane({ apiKey: api.apiKey, projectId: api.projectId, baseUrl: api.url });
  });
  afterAll(async () => {
    await owner?.end();
    await emu?.close();
    await t?.close();
  });

  it.skipIf(skip)(
    "writes one row per metric and label set for the minute, with plausible values",
    { timeout: 60_000 },
    async () => {
      const now = freshMinute();
      await owner.query(
        `INSERT INTO migration.tabelas (tabela, fase, lag_segundos, ultima_execucao)
         VALUES ('pacientes', 'sync', 12.5, now() - interval '30 seconds'), ('consultas', 'pendente', NULL, NULL)`,
      );
      await owner.query(
        `INSERT INTO migration.cdc (slot, lag_bytes, lag_segundos) VALUES ('fisioflow_cdc', 4096, 3.5)`,
      );
      // The API's last complete minute: 11 requests of 20 ms on one route, one of them a 500.
      const previous = now.getTime() - MINUTE;
      for (let i = 0; i < 11; i++) {
        await recordRequest(redis as never, {
          method: "GET",
          route: "/v1/pacientes/:id",
          status: i === 0 ? 500 : 200,
          latencyMs: 20,
          at: previous,
        });
      }
      // A replica the poll finds through the Neon API (served on a port of its own).
      const main = (await neon.listEndpoints(t.neonApi!.mainBranchId)).find((e) => e.type === "read_write")!;
      const replica = await neon.createEndpoint(main.branchId, "read_only", {});

      const result = await run(now);
      expect(result).toMatchObject({ status: "done", lfc: "unavailable: no neon.neon_stat_file_cache view" });
      expect(result.inserted).toBe(result.samples);
      const rows = await rowsAt(now);
      expect(rows).toHaveLength(result.samples as number);

      // Every name is in the catalog and carries exactly its labels.
      for (const r of rows) {
        const info = (METRICS as Record<string, MetricInfo>)[r.metrica];
        expect(info, r.metrica).toBeDefined();
        expect(Object.keys(r.rotulos).sort(), r.metrica).toEqual([...info!.labels].sort());
        expect(Number.isFinite(r.valor), r.metrica).toBe(true);
      }

      expect(one(rows, "db_size_bytes")).toBeGreaterThan(1_000_000);
      for (const state of ["active", "idle", "idle in transaction"])
        expect(one(rows, "db_connections", { state })).toBeGreaterThanOrEqual(0);
      const max = one(rows, "db_max_connections");
      expect(max).toBeGreaterThan(0);
      const conns = rows.filter((r) => r.metrica === "db_connections").reduce((n, r) => n + r.valor, 0);
      expect(one(rows, "db_connections_ratio")).toBeCloseTo(conns / max, 12);
      const ratio = one(rows, "db_cache_hit_ratio");
      expect(ratio).toBeGreaterThan(0);
      expect(ratio).toBeLessThanOrEqual(1);
      const hit = one(rows, "db_blocks_hit_total");
      expect(ratio).toBeCloseTo(hit / (hit + one(rows, "db_blocks_read_total")), 12);
      expect(one(rows, "db_long_running_queries")).toBe(0);
      expect(one(rows, "db_longest_query_seconds")).toBeGreaterThanOrEqual(0);
      expect(one(rows, "db_dead_tuples")).toBeGreaterThanOrEqual(0);
      expect(one(rows, "consultas_partitions_months_ahead")).toBe(3); // db:migrate's 3 months ahead
      expect(one(rows, "migration_sync_lag_seconds", { table: "pacientes" })).toBe(12.5);
      const age = one(rows, "migration_sync_last_run_age_seconds", { table: "pacientes" });
      expect(age).toBeGreaterThanOrEqual(29);
      expect(age).toBeLessThan(90);
      expect(rows.some((r) => r.rotulos.table === "consultas")).toBe(false); // never ran: nothing to say
      expect(one(rows, "migration_cdc_lag_bytes", { slot: "fisioflow_cdc" })).toBe(4096);
      expect(one(rows, "migration_cdc_lag_seconds", { slot: "fisioflow_cdc" })).toBe(3.5);

      expect(one(rows, "api_requests_per_second")).toBeCloseTo(11 / 60, 12);
      expect(one(rows, "api_error_rate")).toBeCloseTo(1 / 11, 12);
      const bucket = bucketIndex(20);
      for (const p of ["p50", "p95", "p99"]) {
        const v = one(rows, `api_latency_${p}_ms`);
        expect(v, p).toBeGreaterThan(LATENCY_BOUNDS_MS[bucket - 1]!);
        expect(v, p).toBeLessThanOrEqual(LATENCY_BOUNDS_MS[bucket]!);
      }
      const route = { method: "GET", route: "/v1/pacientes/:id" };
      expect(one(rows, "api_route_requests_per_second", route)).toBeCloseTo(11 / 60, 12);
      expect(one(rows, "api_route_error_rate", route)).toBeCloseTo(1 / 11, 12);
      expect(one(rows, "api_route_latency_p95_ms", route)).toBe(one(rows, "api_latency_p95_ms"));
      expect(one(rows, "metrics_poll_duration_seconds")).toBeGreaterThan(0);

      // pg_stat_statements: PGlite loads it; the test PostgreSQL has it installed, not preloaded.
      const statements = rows.filter((r) => r.metrica === "db_statement_mean_ms");
      if (name === "pglite") {
        expect(result.statements).toBe("ok");
        expect(statements.length).toBeGreaterThan(0);
        expect(statements.length).toBeLessThanOrEqual(5);
        for (const s of statements) {
          expect(s.rotulos.queryid).toMatch(/^-?\d+$/);
          expect(s.valor).toBeGreaterThan(0);
        }
      } else {
        expect(result.statements).toMatch(/^unavailable: pg_stat_statements is not loaded/);
        expect(statements).toEqual([]);
      }

      // The local replica serves the primary's own database: not in recovery, no lag to measure.
      expect(result.replicas).toEqual({
        note: "ok",
        endpoints: { [replica.id]: "not in recovery: no replay lag to measure" },
      });
      expect(rows.some((r) => r.metrica === "replica_lag_seconds")).toBe(false);
      await neon.deleteEndpoint(replica.id);
    },
  );

  it.skipIf(skip)("writes nothing more for a minute delivered twice, or twice at once", async () => {
    const now = freshMinute();
    const first = await run(now);
    expect(first.status).toBe("done");
    const rows = await rowsAt(now);
    expect(rows.length).toBe(first.samples);
    const again = await run(now);
    expect(again).toMatchObject({ status: "skipped", reason: "this minute was already polled" });
    expect(await rowsAt(now)).toEqual(rows);

    const later = freshMinute();
    const both = await Promise.all([run(later), run(later)]);
    expect(both.map((r) => r.status).sort()).toEqual(["done", "skipped"]);
    const done = both.find((r) => r.status === "done")!;
    expect((await rowsAt(later)).length).toBe(done.samples);
  });

  it.skipIf(skip)("purges samples older than the retention, keeps the rest", async () => {
    const now = freshMinute();
    const at = (days: number) => new Date(now.getTime() - days * 86_400_000);
    await owner.query(
      `INSERT INTO analytics.metricas (metrica, rotulos, em, valor)
       VALUES ('db_size_bytes', '{}', $1, 1), ('db_size_bytes', '{}', $2, 2), ('db_size_bytes', '{}', $3, 3)`,
      [at(20), at(6), at(1)],
    );
    const result = await run(now, {}, { retention_days: 5 });
    expect(result.status).toBe("done");
    expect(result.purged).toBeGreaterThanOrEqual(2);
    const left = await owner.query("SELECT count(*)::int AS n FROM analytics.metricas WHERE em < $1", [
      at(5),
    ]);
    expect(left.rows[0].n).toBe(0);
    const kept = await owner.query("SELECT valor FROM analytics.metricas WHERE em = $1", [at(1)]);
    expect(kept.rows).toEqual([{ valor: 3 }]);
    // The default retention is 14 days.
    expect(metricsPoll.payload.parse({})).toEqual({ retention_days: 14 });
    expect(metricsPoll.schedule).toMatchObject({ cron: "* * * * *" });
  });

  // PostgreSQL only: on PGlite the extension belongs to the embedded superuser, which no test
  // client can act as (the stub tests below cover the branch on every backend).
  if (name === "postgres")
    it.skipIf(skip)(
      "records no statements, and says why, when pg_stat_statements is not installed",
      async () => {
        const url = new URL(postgresAdminUrl());
        url.pathname = `/${t.database}`;
        const admin = new pg.Client({ connectionString: url.toString() });
        await admin.connect();
        try {
          await admin.query("DROP EXTENSION IF EXISTS pg_stat_statements");
        } finally {
          await admin.end();
        }
        const now = freshMinute();
        const result = await run(now);
        expect(result).toMatchObject({
          status: "done",
          statements: "unavailable: pg_stat_statements is not installed",
        });
        expect((await rowsAt(now)).some((r) => r.metrica === "db_statement_mean_ms")).toBe(false);
      },
    );

  it.skipIf(skip)("without Redis, or with Redis down, still writes the database's figures", async () => {
    const none = freshMinute();
    const a = await run(none, { redis: null });
    expect(a).toMatchObject({ status: "done", api: "unavailable: no Redis" });
    const rowsA = await rowsAt(none);
    expect(rowsA.some((r) => r.metrica.startsWith("api_"))).toBe(false);
    expect(rowsA.some((r) => r.metrica === "db_size_bytes")).toBe(true);

    const down = new Redis({ url: "http://127.0.0.1:9", token: "x", retry: false, enableTelemetry: false });
    const failing = freshMinute();
    const b = await run(failing, { redis: down as unknown as JobContext["redis"] });
    expect(b.status).toBe("done");
    expect(b.api).toMatch(/^unavailable: Redis failed/);
    expect((await rowsAt(failing)).some((r) => r.metrica === "db_size_bytes")).toBe(true);

    // An idle minute: 0 requests per second and a 0 error rate, and no latency to speak of.
    const idle = freshMinute();
    expect((await run(idle)).status).toBe("done");
    const rowsC = await rowsAt(idle);
    expect(one(rowsC, "api_requests_per_second")).toBe(0);
    expect(one(rowsC, "api_error_rate")).toBe(0);
    expect(
      rowsC.some((r) => r.metrica.startsWith("api_latency_") || r.metrica.startsWith("api_route_")),
    ).toBe(false);
  });

  it.skipIf(skip)("skips without DATABASE_OWNER_URL", async () => {
    expect(await run(freshMinute(), { ownerUrl: undefined })).toMatchObject({
      status: "skipped",
      reason: "DATABASE_OWNER_URL is not set for this worker",
    });
  });
});

describe("pg_stat_statements, whatever the server says", () => {
  const failing = (code: string) => ({
    query: async (text: string) => {
      if (text.includes("pg_extension")) return { rows: [{ schema: "public" }] };
      throw Object.assign(new Error("boom"), { code });
    },
  });

  it("is unavailable when not installed, not loaded or not readable; a lost connection still throws", async () => {
    expect(await measureStatements({ query: async () => ({ rows: [] }) })).toEqual({
      samples: [],
      note: "unavailable: pg_stat_statements is not installed",
    });
    expect((await measureStatements(failing("55000"))).note).toBe(
      "unavailable: pg_stat_statements is not loaded (shared_preload_libraries)",
    );
    expect((await measureStatements(failing("42501"))).note).toBe(
      "unavailable: pg_stat_statements cannot be read (42501)",
    );
    await expect(measureStatements(failing("08006"))).rejects.toThrow("boom");
  });
});
