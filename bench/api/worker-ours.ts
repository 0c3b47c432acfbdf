/**
 * `ours-workerd`'s entry: the real app (createApp(), as functions/index.ts exports it) run by
 * wrangler's local runtime (workerd). For the bench only, around the app (not in it), as
 * server-ours.ts does under Node: a count of requests started and in flight, and of the app's
 * fetch() calls to Redis (the Upstash REST API), answered as JSON on GET STATS_PATH (not counted).
 */
import type { ExecutionContext } from "hono";
import { createApp } from "../../functions/app";
import { STATS_PATH } from "./worker-stats";

const app = createApp();
const stats = { requests: 0, inFlight: 0, redisCalls: 0 };
let redisOrigin: string | null | undefined;
const realFetch = globalThis.fetch;
globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (redisOrigin && url.startsWith(redisOrigin)) stats.redisCalls++;
  return realFetch(input, init);
}) as typeof fetch;

export default {
  async fetch(req: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {
    if (new URL(req.url).pathname === STATS_PATH) return Response.json(stats);
    if (redisOrigin === undefined) {
      const u = env.UPSTASH_REDIS_REST_URL;
      redisOrigin = typeof u === "string" && u ? new URL(u).origin : null;
    }
    stats.requests++;
    stats.inFlight++;
    try {
      return await app.fetch(req, env, ctx);
    } finally {
      stats.inFlight--;
    }
  },
};
