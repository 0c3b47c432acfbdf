import { type NeonQueryFunction, neon } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis/cloudflare";
import { configureNeon } from "../db/neon-config";
import { NeonControlPlane } from "../jobs/neon/api";
import type { Env } from "./env";
import { type Clock, systemClock } from "./lib/clock";
import type { Logger } from "./lib/logger";

/**
 * Per-request services. Built by the `init` middleware for every request: Workers forbids I/O
 * objects shared across requests, and neon() / Redis over fetch are cheap to create.
 */
export interface Services {
  /**
   * The app role's connection WITHOUT a caller identity: RLS then shows nothing, and only code
   * that acts for no caller uses it (health, the job receiver). Routes under /v1 get the
   * caller-scoped `db` (db/caller.ts) instead and never see this.
   */
  unscopedSql: NeonQueryFunction<false, false>;
  redis: Redis | null;
  /** Neon's API for this project (jobs/neon/api.ts), or null where NEON_API_KEY/NEON_PROJECT_ID are unset. */
  neon: NeonControlPlane | null;
  clock: Clock;
  logger: Logger;
}

export function createServices(env: Env, logger: Logger, clock: Clock = systemClock): Services {
  // Local cloud only: route the driver to the local endpoint (unset in production: Neon's hosts).
  configureNeon({ fetchEndpoint: env.NEON_FETCH_ENDPOINT, wsProxy: env.NEON_WS_PROXY });
  const unscopedSql = neon(env.DATABASE_URL);
  const redis =
    env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
      ? new Redis({
          url: env.UPSTASH_REDIS_REST_URL,
          token: env.UPSTASH_REDIS_REST_TOKEN,
          retry: { retries: 1, backoff: () => 50 },
          enableTelemetry: false,
        })
      : null;
  const neonApi =
    env.NEON_API_KEY && env.NEON_PROJECT_ID
      ? new NeonControlPlane({
          apiKey: env.NEON_API_KEY,
          projectId: env.NEON_PROJECT_ID,
          baseUrl: env.NEON_API_URL,
        })
      : null;
  return { unscopedSql, redis, neon: neonApi, clock, logger };
}
