/**
 * The per-user rate limit on /v1, with the app in process over a real local endpoint and the
 * Upstash Redis emulator: 429 with Retry-After and RateLimit headers past the limit, per user, and
 * every request still served when Redis is down.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { createApp } from "../../functions/app";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();

describe.each(backends)("/v1 rate limit on $name", ({ name, skip }) => {
  let db: TestEndpoint;
  let redis: UpstashRedisEmulator;
  const app = createApp();
  const get = async (userId: string, env: Record<string, string>) =>
    requestApp(
      app,
      "/v1/pacientes",
      {
        headers: {
          authorization: `Bearer ${await tokenFor({ userId, role: "admin" }, IN_PROCESS_ENV.JWT_SECRET!)}`,
        },
      },
      {
        NEON_FETCH_ENDPOINT: db.endpoint.sqlUrl,
        DATABASE_URL: db.appUrl,
        RATE_LIMIT_PER_MINUTE: "3",
        ...env,
      },
    );
  beforeAll(async () => {
    if (skip) return;
    db = await startTestEndpoint(name, { prefix: "ratelimit", migrate: true });
    redis = await startUpstashRedis({ port: 0 });
  });
  afterAll(async () => {
    await redis?.close();
    await db?.close();
  });

  it.skipIf(skip)("answers 429 with Retry-After past the limit, for that user only", async () => {
    const env = { UPSTASH_REDIS_REST_URL: redis.url, UPSTASH_REDIS_REST_TOKEN: redis.token };
    const user = crypto.randomUUID();
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await get(user, env);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(Number(last!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(last!.headers.get("ratelimit-limit")).toBe("3");
    expect(last!.headers.get("ratelimit-remaining")).toBe("0");
    expect(((await last!.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
    expect((await get(crypto.randomUUID(), env)).status).toBe(200);
  });

  it.skipIf(skip)("serves every request when Redis is down", async () => {
    const env = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9", UPSTASH_REDIS_REST_TOKEN: "x" };
    const user = crypto.randomUUID();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(user, env)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });
});
