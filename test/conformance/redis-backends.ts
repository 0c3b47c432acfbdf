/**
 * Which stores the Upstash Redis emulator is tested against (mirrors test/harness/backends.ts).
 *
 * - `memory`: the embedded store, always available.
 * - `redis`: a real redis-server at TEST_REDIS_URL / REDIS_URL, default redis://127.0.0.1:6379/1
 *   (a logical db of its own, flushed by the suites). When it cannot be reached the suites for it
 *   are skipped with a message, except in CI (CI=true), where that is a failure.
 * TEST_REDIS_BACKENDS=memory,redis narrows the list.
 */

import { RedisError } from "../../dev/upstash-redis/reply";
import { RespClient } from "../../dev/upstash-redis/resp";

export type RedisBackendName = "memory" | "redis";

export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL || process.env.REDIS_URL || "redis://127.0.0.1:6379/1";
}

let probe: Promise<string | null> | undefined;

/** null when reachable, else the reason it is not. */
export function probeRedis(): Promise<string | null> {
  probe ??= (async () => {
    const client = new RespClient(testRedisUrl(), 1);
    try {
      const pong = await Promise.race([
        client.command(["PING"]),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out after 3 s")), 3000)),
      ]);
      if (pong instanceof RedisError) throw pong;
      return null;
    } catch (err) {
      return `Redis not reachable at ${testRedisUrl().replace(/\/\/([^@/]*)@/, "//***@")}: ${(err as Error).message}`;
    } finally {
      client.close();
    }
  })();
  return probe;
}

export async function testRedisBackends(): Promise<
  { name: RedisBackendName; redisUrl: string | undefined; skip: string | null }[]
> {
  const wanted = (process.env.TEST_REDIS_BACKENDS ?? "memory,redis").split(",").map((s) => s.trim());
  const out: { name: RedisBackendName; redisUrl: string | undefined; skip: string | null }[] = [];
  if (wanted.includes("memory")) out.push({ name: "memory", redisUrl: undefined, skip: null });
  if (wanted.includes("redis")) {
    const reason = await probeRedis();
    if (reason && process.env.CI === "true")
      throw new Error(`CI must test the real-Redis backend, but ${reason}`);
    if (reason) console.warn(`[skip] redis backend: ${reason}`);
    out.push({ name: "redis", redisUrl: testRedisUrl(), skip: reason });
  }
  return out;
}
