import type { Redis } from "@upstash/redis/cloudflare";
import type { Logger } from "./logger";

/**
 * Read-through cache on Upstash Redis. Redis is an optimisation, never a dependency: when it is
 * absent or failing, `load` runs and the request succeeds, with a logged warning.
 */
export interface Cache {
  getOrLoad<T>(key: string, ttlSeconds: number, load: () => Promise<T>): Promise<T>;
  /**
   * Like getOrLoad, for one `field` of a hash at `key` (e.g. one entry per caller of one row):
   * `invalidate(key)` then drops every field at once. `load` answering undefined is not cached.
   */
  getOrLoadField<T>(
    key: string,
    field: string,
    ttlSeconds: number,
    load: () => Promise<T | undefined>,
  ): Promise<T | undefined>;
  invalidate(...keys: string[]): Promise<void>;
}

export function createCache(redis: Redis | null, logger: Logger, prefix = "cache:"): Cache {
  const warn = (op: string, err: unknown) =>
    logger.warn("cache_degraded", { op, error: (err as Error)?.name ?? "Error" });
  return {
    async getOrLoad<T>(key: string, ttlSeconds: number, load: () => Promise<T>): Promise<T> {
      if (!redis) return load();
      const k = prefix + key;
      try {
        const hit = await redis.get<{ v: T }>(k);
        if (hit && typeof hit === "object" && "v" in hit) return hit.v;
      } catch (err) {
        warn("get", err);
        return load();
      }
      const value = await load();
      try {
        // Wrapped so that null/false/0 are cached values too, distinct from a miss.
        await redis.set(k, { v: value }, { ex: ttlSeconds });
      } catch (err) {
        warn("set", err);
      }
      return value;
    },
    async getOrLoadField<T>(
      key: string,
      field: string,
      ttlSeconds: number,
      load: () => Promise<T | undefined>,
    ) {
      if (!redis) return load();
      const k = prefix + key;
      try {
        // The hash's EXPIRE restarts with every field written, so each field carries its own age.
        const hit = await redis.hget<{ v: T; at: number }>(k, field);
        if (hit && typeof hit === "object" && "v" in hit && Date.now() - hit.at < ttlSeconds * 1000)
          return hit.v;
      } catch (err) {
        warn("hget", err);
        return load();
      }
      const value = await load();
      if (value === undefined) return value;
      try {
        const p = redis.pipeline();
        p.hset(k, { [field]: { v: value, at: Date.now() } });
        p.expire(k, ttlSeconds);
        await p.exec();
      } catch (err) {
        warn("hset", err);
      }
      return value;
    },
    async invalidate(...keys: string[]) {
      if (!redis || keys.length === 0) return;
      try {
        await redis.del(...keys.map((k) => prefix + k));
      } catch (err) {
        warn("del", err);
      }
    },
  };
}
