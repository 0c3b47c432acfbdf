/**
 * Read replicas discovered through the Neon API (functions/lib/replicas.ts), the app in process
 * against the local Neon API: with READ_REPLICA_URLS unset, reads go to the read_only endpoints of
 * DATABASE_URL's branch (DATABASE_URL with each replica's host), writes to the primary; no replica
 * means every read on the primary; a failing Neon API means the primary too, never an error.
 * (Redis is there because without it nobody's recent writes are known and every read stays on the
 * primary: functions/v1/index.ts.)
 */
import { createNeonClient } from "@neon/sdk";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { createApp } from "../../functions/app";
import { endpointKey, forgetDiscoveredReplicas, replicaUrl, sameDomain } from "../../functions/lib/replicas";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { ownerSessions } from "../harness/db";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();

describe("replica connection strings", () => {
  it("match endpoints by Neon host without -pooler, and keep the pooler and the credentials", () => {
    expect(endpointKey("ep-cool-123-pooler.sa-east-1.aws.neon.tech")).toBe(
      "ep-cool-123.sa-east-1.aws.neon.tech",
    );
    expect(endpointKey("localhost:4444")).toBe("127.0.0.1:4444");
    expect(
      replicaUrl(
        "postgresql://app:s3cret@ep-cool-123-pooler.sa-east-1.aws.neon.tech/fisioflow?sslmode=require",
        "ep-read-456.sa-east-1.aws.neon.tech",
      ),
    ).toBe("postgresql://app:s3cret@ep-read-456-pooler.sa-east-1.aws.neon.tech/fisioflow?sslmode=require");
    expect(replicaUrl("postgresql://app:pw@localhost:4444/db", "127.0.0.1:5001")).toBe(
      "postgresql://app:pw@127.0.0.1:5001/db",
    );
    // Only hosts of the primary's own domain ever get its credentials.
    const primary = "ep-cool-123-pooler.sa-east-1.aws.neon.tech";
    expect(sameDomain("ep-read-456.sa-east-1.aws.neon.tech", primary)).toBe(true);
    expect(sameDomain("attacker.example:5432", primary)).toBe(false);
    expect(sameDomain("ep-read-456.us-east-2.aws.neon.tech", primary)).toBe(false);
    expect(sameDomain("127.0.0.1:5001", "localhost:4444")).toBe(true);
    expect(sameDomain("10.0.0.1:5001", "localhost:4444")).toBe(false);
  });
});

describe.each(backends)("read replicas discovered through the Neon API on $name", ({ name, skip }) => {
  let t: TestEndpoint;
  let redis: UpstashRedisEmulator;
  const app = createApp();
  const fisio = crypto.randomUUID();

  beforeAll(async () => {
    if (skip) return;
    t = await startTestEndpoint(name, { prefix: "replica_disc", migrate: true, neonApi: true });
    redis = await startUpstashRedis({ port: 0 });
    const owner = ownerSessions(t.ownerUrl);
    await owner.system(async (c) => {
      await c.query(
        "INSERT INTO fisioterapeutas (id, nome, email, crefito) VALUES ($1, 'F', $2, 'CREFITO-3/1-F')",
        [fisio, `f.${fisio}@x.br`],
      );
    });
    await owner.end();
  }, 120_000);
  afterAll(async () => {
    await redis?.close();
    await t?.close();
  });
  // What was discovered is remembered for a minute (in the isolate and in Redis): forget it.
  beforeEach(async () => {
    forgetDiscoveredReplicas();
    if (redis) await new Redis({ url: redis.url, token: redis.token }).flushdb();
  });

  const call = async (method: string, path: string, env: Record<string, string> = {}, body?: unknown) => {
    const token = await tokenFor({ userId: fisio, role: "fisioterapeuta" }, IN_PROCESS_ENV.JWT_SECRET!);
    const res = await requestApp(
      app,
      path,
      {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      {
        NEON_FETCH_ENDPOINT: t.endpoint.sqlUrl,
        DATABASE_URL: t.appUrl,
        NEON_API_URL: t.neonApi!.url,
        NEON_API_KEY: t.neonApi!.apiKey,
        NEON_PROJECT_ID: t.neonApi!.projectId,
        UPSTASH_REDIS_REST_URL: redis.url,
        UPSTASH_REDIS_REST_TOKEN: redis.token,
        READ_YOUR_WRITES_SECONDS: "0",
        ...env,
      },
    );
    return { status: res.status, body: await res.json() };
  };
  const served = () => ({ ...t.endpoint.stats.byEndpoint });
  const delta = (before: Record<string, number>) => {
    const now = served();
    return Object.fromEntries(
      Object.keys(now)
        .map((k) => [k, now[k]! - (before[k] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
  };

  it.skipIf(skip)("no replica: reads and writes on the primary", async () => {
    const before = served();
    expect((await call("GET", "/v1/pacientes?limit=5")).status).toBe(200);
    expect(Object.keys(delta(before))).toEqual([t.endpoint.hosts.main.endpointId]);
  });

  const withReplica = async (fn: (replicaId: string) => Promise<void>) => {
    const neon = createNeonClient({
      apiKey: t.neonApi!.apiKey,
      baseUrl: t.neonApi!.url,
      throwOnError: true,
      waitForReadiness: true,
      wait: { pollIntervalMs: 50 },
    });
    const replica = await neon.postgres.endpoints.create({
      projectId: t.neonApi!.projectId,
      branch_id: t.neonApi!.mainBranchId,
      type: "read_only",
    });
    try {
      await fn(replica.id);
    } finally {
      await neon.postgres.endpoints.delete({ projectId: t.neonApi!.projectId, endpointId: replica.id });
    }
  };

  it.skipIf(skip)("a read_only endpoint takes the reads; writes stay on the primary", async () => {
    await withReplica(async (replicaId) => {
      let before = served();
      expect((await call("GET", "/v1/pacientes?limit=5")).status).toBe(200);
      expect(delta(before)).toEqual({ [replicaId]: 1 });
      before = served();
      const created = await call(
        "POST",
        "/v1/pacientes",
        {},
        { nome: "Ana Replica", fisioterapeuta_id: fisio },
      );
      expect(created.status).toBe(201);
      expect(Object.keys(delta(before))).toEqual([t.endpoint.hosts.main.endpointId]);
      // READ_REPLICA_URLS, when set, wins over discovery.
      before = served();
      expect((await call("GET", "/v1/pacientes?limit=5", { READ_REPLICA_URLS: t.appUrl })).status).toBe(200);
      expect(Object.keys(delta(before))).toEqual([t.endpoint.hosts.main.endpointId]);
    });
  });

  it.skipIf(skip)("a Neon API that fails: reads on the primary, no error", async () => {
    await withReplica(async () => {
      const before = served();
      const res = await call("GET", "/v1/pacientes?limit=5", { NEON_API_KEY: "wrong-key" });
      expect(res.status).toBe(200);
      expect(Object.keys(delta(before))).toEqual([t.endpoint.hosts.main.endpointId]);
    });
  });
});
