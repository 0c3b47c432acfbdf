import { type NeonQueryFunction, neon, neonConfig } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis/cloudflare";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import type { Env } from "./env";
import { type Clock, systemClock } from "./lib/clock";
import type { Logger } from "./lib/logger";

/**
 * Per-request services. Built by the `init` middleware for every request: Workers forbids I/O
 * objects shared across requests, and neon() / Redis over fetch are cheap to create.
 */
export interface Services {
  sql: NeonQueryFunction<false, false>;
  db: NeonHttpDatabase;
  redis: Redis | null;
  clock: Clock;
  logger: Logger;
}

/** Points the Neon driver at the local endpoint when the env says so (local cloud only). The
 * settings are global to the driver but identical for every request, so setting them is safe. */
export function configureNeon(env: Env) {
  if (env.NEON_FETCH_ENDPOINT && neonConfig.fetchEndpoint !== env.NEON_FETCH_ENDPOINT) {
    neonConfig.fetchEndpoint = env.NEON_FETCH_ENDPOINT;
  }
  if (env.NEON_WS_PROXY && neonConfig.wsProxy !== env.NEON_WS_PROXY) {
    neonConfig.wsProxy = env.NEON_WS_PROXY;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
  }
}

export function createServices(env: Env, logger: Logger, clock: Clock = systemClock): Services {
  configureNeon(env);
  const sql = neon(env.DATABASE_URL);
  const db = drizzle({ client: sql, casing: "snake_case" });
  const redis =
    env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
      ? new Redis({
          url: env.UPSTASH_REDIS_REST_URL,
          token: env.UPSTASH_REDIS_REST_TOKEN,
          retry: { retries: 1, backoff: () => 50 },
          enableTelemetry: false,
        })
      : null;
  return { sql, db, redis, clock, logger };
}
