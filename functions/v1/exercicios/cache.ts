/**
 * The catalog read cache. Policy exercicios_read (0006) shows every authenticated role the same
 * rows, so one entry per page and filter is shared by admins, fisioterapeutas and pacientes; the
 * key names no caller. Should that policy ever narrow by role or user, the key must say so.
 *
 * Invalidation: pages are keyed by a generation token, and a write deletes the token, so every
 * page cached before it becomes unreachable at once (Redis cannot delete "all pages" by pattern
 * cheaply). A reader fetches the token before it reads the database, so a page stored under a
 * token that outlived the write was read after it (from the primary: a lagging read replica
 * would break this, and must not serve these loads). A write whose delete fails (Redis down) leaves
 * pages stale for at most PAGE_TTL_SECONDS, as do writes that bypass the API (seed, sync).
 */
import type { Context } from "hono";
import { createCache } from "../../lib/cache";
import { sha256Hex } from "../../lib/hash";
import type { V1Env } from "../context";

const PAGE_TTL_SECONDS = 300;
const GENERATION_TTL_SECONDS = 24 * 3600;

/**
 * Which database the catalog is of: one Upstash database may serve several Neon branches
 * (previews, restore drills) or test clouds, whose catalogs differ. Host and database name only:
 * the key never carries the connection string's credentials.
 */
async function databaseScope(databaseUrl: string): Promise<string> {
  const u = new URL(databaseUrl);
  return (await sha256Hex(`${u.host}${u.pathname}`)).slice(0, 16);
}

export interface CatalogCache {
  /** A page for these query values, from Redis or `load`. */
  page<T>(query: unknown[], load: () => Promise<T>): Promise<T>;
  /** After a committed write, before answering: the writer's next read must see it. */
  invalidate(): Promise<void>;
}

export async function catalogCache(c: Context<V1Env>): Promise<CatalogCache> {
  const { redis, logger } = c.get("services");
  const cache = createCache(redis, logger);
  const base = `exercicios:${await databaseScope(c.get("env").DATABASE_URL)}`;
  const generationKey = `${base}:gen`;
  return {
    async page(query, load) {
      const generation = await cache.getOrLoad(generationKey, GENERATION_TTL_SECONDS, async () =>
        crypto.randomUUID(),
      );
      // Hashed: a cursor or categoria can be long, and a key of fixed size cannot be ambiguous.
      const key = `${base}:${generation}:${await sha256Hex(JSON.stringify(query))}`;
      return cache.getOrLoad(key, PAGE_TTL_SECONDS, load);
    },
    invalidate: () => cache.invalidate(generationKey),
  };
}
