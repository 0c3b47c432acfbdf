/**
 * The app in process, for route and job tests that need no workerd: `createApp()` driven by
 * `app.request()` or served over HTTP by @hono/node-server (so QStash deliveries reach it), with a
 * real ExecutionContext stand-in whose `waitUntil` work is awaited before the answer counts.
 * The workerd way (wrangler's unstable_dev) is test/harness/cloud.ts.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { ExecutionContext } from "hono";
import { LOCAL } from "../../dev/config";
import type { QStashEmulator } from "../../dev/qstash";
import type { UpstashRedisEmulator } from "../../dev/upstash-redis";
import { type AppOptions, createApp } from "../../functions/app";

/** Values the env schema accepts and that reach nothing: a Neon host is only contacted when queried. */
export const IN_PROCESS_ENV: Record<string, string> = {
  ENVIRONMENT: "test",
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
  DATABASE_URL: "postgresql://fisioflow_app:pw@ep-x-pooler.sa-east-1.aws.neon.tech/fisioflow",
  QSTASH_CURRENT_SIGNING_KEY: "sig_current_0123456789",
  QSTASH_NEXT_SIGNING_KEY: "sig_next_0123456789",
  JWT_SECRET: "in-process-test-secret-0123456789-0123456789",
  // The key test databases are migrated with (test/harness/endpoint.ts).
  DB_IDENTITY_KEY_ID: LOCAL.identityKey.kid,
  DB_IDENTITY_KEY: LOCAL.identityKey.secret,
  CORS_ORIGINS: "http://localhost:5173",
};

export interface TestExecutionContext extends ExecutionContext {
  /** Resolves when every promise handed to waitUntil has settled. */
  settled(): Promise<void>;
}

export function executionContext(): TestExecutionContext {
  const pending: Promise<unknown>[] = [];
  return {
    waitUntil: (p) => void pending.push(p.catch(() => {})),
    passThroughOnException: () => {},
    props: {},
    settled: async () => {
      while (pending.length) await Promise.all(pending.splice(0));
    },
  };
}

export type InProcessApp = ReturnType<typeof createApp>;

/** One request to the app, with `env` over IN_PROCESS_ENV; waits for its waitUntil work. */
export async function requestApp(
  app: InProcessApp,
  path: string,
  init: RequestInit = {},
  env: Record<string, unknown> = {},
): Promise<Response> {
  const ctx = executionContext();
  const res = await app.request(path, init, { ...IN_PROCESS_ENV, ...env }, ctx);
  await ctx.settled();
  return res;
}

export interface ServedApp {
  url: string;
  close(): Promise<void>;
}

/** The app on an ephemeral 127.0.0.1 port under Node, with `env` over IN_PROCESS_ENV. */
export async function serveApp(env: Record<string, unknown>, opts: AppOptions = {}): Promise<ServedApp> {
  const app = createApp(opts);
  const bindings = { ...IN_PROCESS_ENV, ...env };
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      { fetch: (req) => app.fetch(req, bindings, executionContext()), port: 0, hostname: "127.0.0.1" },
      () => resolve(s),
    );
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The worker's variables that point it at the Upstash emulators. */
export function upstashVars(redis: UpstashRedisEmulator, qstash: QStashEmulator): Record<string, string> {
  return {
    UPSTASH_REDIS_REST_URL: redis.url,
    UPSTASH_REDIS_REST_TOKEN: redis.token,
    QSTASH_URL: qstash.url,
    QSTASH_TOKEN: qstash.token,
    QSTASH_CURRENT_SIGNING_KEY: qstash.currentSigningKey,
    QSTASH_NEXT_SIGNING_KEY: qstash.nextSigningKey,
  };
}
