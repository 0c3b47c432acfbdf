import { Redis } from "@upstash/redis/cloudflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { createCache } from "../../functions/lib/cache";
import { createLogger } from "../../functions/lib/logger";
import { checkRateLimit } from "../../functions/lib/ratelimit";

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger("debug", {}, (l) => lines.push(l)) };
}

describe("cache and rate limit helpers", () => {
  let emu: UpstashRedisEmulator;
  let redis: Redis;
  // Nothing listens on port 9 of loopback: a Redis REST that is down.
  const down = new Redis({ url: "http://127.0.0.1:9", token: "x", retry: false, enableTelemetry: false });
  beforeAll(async () => {
    emu = await startUpstashRedis({ port: 0 });
    redis = new Redis({ url: emu.url, token: emu.token, enableTelemetry: false });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("caches a loaded value, including falsy values, until invalidated", async () => {
    const { logger } = capture();
    const cache = createCache(redis, logger, `t${Date.now()}:`);
    let loads = 0;
    const load = async () => {
      loads++;
      return 0;
    };
    expect(await cache.getOrLoad("k", 60, load)).toBe(0);
    expect(await cache.getOrLoad("k", 60, load)).toBe(0);
    expect(loads).toBe(1);
    await cache.invalidate("k");
    await cache.getOrLoad("k", 60, load);
    expect(loads).toBe(2);
  });

  it("degrades to loading when Redis is down, with a warning", async () => {
    const { logger, lines } = capture();
    const cache = createCache(down, logger);
    expect(await cache.getOrLoad("k", 60, async () => "fresh")).toBe("fresh");
    expect(lines.some((l) => l.includes('"cache_degraded"'))).toBe(true);
  });

  it("limits with a sliding window, then lets requests through again", async () => {
    const rule = { limit: 3, window: "2 s" as const, prefix: `rl${Date.now()}` };
    // Start the burst just after a window boundary: four requests straddling one would see the
    // previous window's three only partly weighted, and the 4th could pass.
    await new Promise((r) => setTimeout(r, 2000 - (Date.now() % 2000) + 20));
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await checkRateLimit(redis, rule, "user-1", () => {}));
    expect(results.map((r) => r.limited)).toEqual([false, false, false, true]);
    expect(results[0]).toMatchObject({ degraded: false, remaining: 2 });
    // Another identifier has its own budget.
    expect((await checkRateLimit(redis, rule, "user-2", () => {})).limited).toBe(false);
    await new Promise((r) => setTimeout(r, 4100));
    expect((await checkRateLimit(redis, rule, "user-1", () => {})).limited).toBe(false);
  });

  it("allows requests when Redis is down, and says so", async () => {
    const reasons: string[] = [];
    const d = await checkRateLimit(down, { limit: 1, window: "1 s", prefix: "x" }, "u", (r) =>
      reasons.push(r),
    );
    expect(d).toEqual({ limited: false, degraded: true });
    expect(reasons).toHaveLength(1);
  });
});
