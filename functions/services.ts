import { type NeonQueryFunction, neon } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis/cloudflare";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import { configureNeon } from "../db/neon-config";
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

export function createServices(env: Env, logger: Logger, clock: Clock = systemClock): Services {
  // Local cloud only: route the driver to the local endpoint (unset in production: Neon's hosts).
  configureNeon({ fetchEndpoint: env.NEON_FETCH_ENDPOINT, wsProxy: env.NEON_WS_PROXY });
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
