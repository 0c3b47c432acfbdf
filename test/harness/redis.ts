/**
 * Which stores the Upstash Redis emulator is tested against (mirrors test/harness/backends.ts).
 *
 * - `memory`: the embedded store, always available.
 * - `redis`: a real redis-server at TEST_REDIS_URL / REDIS_URL, default redis://127.0.0.1:6379.
 *   When it cannot be reached the suites for it are skipped with a message, except in CI
 *   (CI=true), where that is a failure.
 * TEST_REDIS_BACKENDS=memory or =redis narrows the list (not under CI).
 *
 * Every suite names its logical db explicitly (REDIS_TEST_DB), never 0: that is where REDIS_URL
 * usually points and where a developer's own data lives, and some suites flush theirs.
 */

import { RedisError } from "../../dev/upstash-redis/reply";
import { RespClient } from "../../dev/upstash-redis/resp";
import { wantedBackends } from "./backends";

export type RedisBackendName = "memory" | "redis";

/** One logical db per suite, so suites running in parallel never share (or flush) each other's. */
export const REDIS_TEST_DB = {
  conformance: 1,
  secondRegion: 2,
  more: 3,
  differential: 4,
  differential2: 5,
  /** The local cloud behind the app's end-to-end suites (keys unique per run, never flushed). */
  app: 6,
  /** Lua on both stores (upstash-redis-lua). */
  lua: 7,
  /** Hash-field expiry, XAUTOCLAIM, COPY, SCAN TYPE, MEMORY USAGE (upstash-redis-commands). */
  commands: 11,
  /** Request metrics' per-minute buckets (request-metrics; keys unique per run, never flushed). */
  requestMetrics: 12,
} as const;

function baseRedisUrl(): string {
  return process.env.TEST_REDIS_URL || process.env.REDIS_URL || "redis://127.0.0.1:6379";
}

/** The test Redis on logical db `db` (1–15), whatever db the configured URL names. */
export function testRedisUrl(db: number): string {
  if (!Number.isInteger(db) || db < 1 || db > 15)
    throw new RangeError(`test Redis db must be 1–15, not ${db}`);
  const url = new URL(baseRedisUrl());
  url.pathname = `/${db}`;
  return url.toString();
}

let probe: Promise<string | null> | undefined;

/** null when reachable, else the reason it is not. */
export function probeRedis(): Promise<string | null> {
  probe ??= (async () => {
    const client = new RespClient(testRedisUrl(REDIS_TEST_DB.conformance), 1);
    try {
      const pong = await Promise.race([
        client.command(["PING"]),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out after 3 s")), 3000)),
      ]);
      if (pong instanceof RedisError) throw pong;
      return null;
    } catch (err) {
      return `Redis not reachable at ${baseRedisUrl().replace(/\/\/([^@/]*)@/, "//***@")}: ${(err as Error).message}`;
    } finally {
      client.close();
    }
  })();
  return probe;
}

export interface RedisBackend {
  name: RedisBackendName;
  /** The real Redis on logical db `db`; undefined for the embedded store. */
  redisUrl(db: number): string | undefined;
  skip: string | null;
}

export async function testRedisBackends(): Promise<RedisBackend[]> {
  const wanted = wantedBackends<RedisBackendName>("TEST_REDIS_BACKENDS", ["memory", "redis"]);
  const out: RedisBackend[] = [];
  if (wanted.includes("memory")) out.push({ name: "memory", redisUrl: () => undefined, skip: null });
  if (wanted.includes("redis")) {
    const reason = await probeRedis();
    if (reason && process.env.CI === "true")
      throw new Error(`CI must test the real-Redis backend, but ${reason}`);
    if (reason) console.warn(`[skip] redis backend: ${reason}`);
    out.push({ name: "redis", redisUrl: testRedisUrl, skip: reason });
  }
  return out;
}
