/**
 * Starts a whole local cloud for a test file: Neon endpoint (on the chosen backend, with a
 * database of its own), Upstash Redis REST (in-memory), QStash, migrations, and the worker under
 * `wrangler dev` (workerd) wired to all of them. Everything listens on ephemeral ports.
 */

import type { PoolClient } from "@neondatabase/serverless";
import { unstable_dev } from "wrangler";
import { LOCAL } from "../../dev/config";
import type { NeonEndpoint } from "../../dev/neon";
import type { NeonApi } from "../../dev/neon-api";
import { type QStashEmulator, startQStash } from "../../dev/qstash";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { upstashVars } from "./app";
import type { BackendName } from "./backends";
import { ownerSessions } from "./db";
import { startTestEndpoint } from "./endpoint";

export const TEST_JWT_SECRET = "test-jwt-secret-0123456789-0123456789-abcdef";

export interface Cloud {
  backend: BackendName;
  database: string;
  neon: NeonEndpoint;
  /** The local Neon API (CloudOptions.neonApi). */
  neonApi?: NeonApi;
  redis: UpstashRedisEmulator;
  qstash: QStashEmulator;
  worker: Awaited<ReturnType<typeof unstable_dev>>;
  workerUrl: string;
  vars: Record<string, string>;
  /** Owner work under the 'system' identity, in one transaction (fixtures, checks afterwards). */
  system<T>(fn: (c: PoolClient) => Promise<T>): Promise<T>;
  /** Neon HTTP requests the endpoint has served: a route's round trips are the difference. */
  sqlRequests(): number;
  /** Moves the QStash clock forward and fires what became due. */
  advanceQStash(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface CloudOptions {
  backend: BackendName;
  /** A real redis-server (a test db URL) behind the Upstash emulator; default its in-memory store. */
  redisUrl?: string;
  vars?: Record<string, string>;
  migrate?: boolean;
  /** Serve the local Neon API on the endpoint and give the worker NEON_API_URL/KEY/PROJECT_ID. */
  neonApi?: boolean;
}

export async function startCloud(opts: CloudOptions): Promise<Cloud> {
  const db = await startTestEndpoint(opts.backend, {
    migrate: opts.migrate !== false,
    neonApi: opts.neonApi,
  });
  const { endpoint: neon, database } = db;
  const redis = await startUpstashRedis({ port: 0, redisUrl: opts.redisUrl });
  // QStash runs on a clock the test can move, so schedules fire without waiting for the minute.
  const clock = { offsetMs: 0 };
  const qstash = await startQStash({ port: 0, retryBaseDelayMs: 50, now: () => Date.now() + clock.offsetMs });

  const vars: Record<string, string> = {
    ENVIRONMENT: "test",
    LOG_LEVEL: "warn",
    DATABASE_URL: db.appUrl,
    DATABASE_OWNER_URL: db.ownerUrl,
    NEON_FETCH_ENDPOINT: neon.sqlUrl,
    NEON_WS_PROXY: neon.wsProxy,
    ...upstashVars(redis, qstash),
    JWT_SECRET: TEST_JWT_SECRET,
    // The key test databases are migrated with (test/harness/endpoint.ts).
    DB_IDENTITY_KEY_ID: LOCAL.identityKey.kid,
    DB_IDENTITY_KEY: LOCAL.identityKey.secret,
    CORS_ORIGINS: "http://localhost:5173",
    ...(db.neonApi
      ? {
          NEON_API_URL: db.neonApi.url,
          NEON_API_KEY: db.neonApi.apiKey,
          NEON_PROJECT_ID: db.neonApi.projectId,
        }
      : {}),
    ...opts.vars,
  };
  const worker = await startWorker(vars);
  const workerUrl = `http://${worker.address}:${worker.port}`;
  const owner = ownerSessions(db.ownerUrl);
  return {
    backend: opts.backend,
    database,
    neon,
    neonApi: db.neonApi,
    redis,
    qstash,
    worker,
    workerUrl,
    vars,
    system: owner.system,
    sqlRequests: () => neon.stats.sqlRequests,
    async advanceQStash(ms: number) {
      clock.offsetMs += ms;
      await qstash.tick();
    },
    async close() {
      await worker.stop().catch(() => {});
      await owner.end();
      await qstash.close().catch(() => {});
      await redis.close().catch(() => {});
      await db.close();
    },
  };
}

/** The worker under wrangler's local runtime (workerd), with the given vars, on an ephemeral port. */
export function startWorker(vars: Record<string, string>) {
  return unstable_dev("functions/index.ts", {
    config: "wrangler.toml",
    ip: "127.0.0.1",
    port: 0,
    vars,
    logLevel: "error",
    // Bindings' data (the FILES bucket) in a throw-away store: nothing left under .wrangler/state.
    persist: false,
    // No file watching: tests run one build; a rebuild racing the shutdown makes esbuild deadlock.
    experimental: { disableExperimentalWarning: true, watch: false, disableDevRegistry: true },
  });
}
