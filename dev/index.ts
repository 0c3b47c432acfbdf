/**
 * `npm run dev`: the whole local cloud and the worker in one command.
 *
 *   Neon endpoint (HTTP /sql + WebSocket /v1) → PGlite under .data/ or LOCAL_POSTGRES_URL
 *   Neon API v2 (/api/v2 on the same port)    → branches, endpoints, restores (dev/neon-api)
 *   Upstash Redis REST                        → in-memory store or REDIS_URL
 *   QStash                                    → in-process, signs deliveries with the dev keys
 *   migrations, schedules:sync, then `wrangler dev` on PUBLIC_URL's port
 *
 * Ctrl-C stops everything. Configuration: .dev.vars.example, overridden by .dev.vars and env.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { migrate } from "../db/migrate";
import { syncSchedules } from "../jobs/schedules/sync";
import { loadDevVars } from "../scripts/lib/vars";
import { LOCAL } from "./config";
import { startNeonEndpoint } from "./neon";
import { configureNeonForLocal } from "./neon/client";
import { startNeonApi } from "./neon-api";
import { startQStash } from "./qstash";
import { startUpstashRedis } from "./upstash-redis";

const t0 = Date.now();
// .dev.vars.example < .dev.vars < environment: an exported variable overrides both files, for the
// local cloud and for the worker alike.
const fileVars = loadDevVars();
const vars = { ...fileVars, ...pick(process.env, Object.keys(fileVars)) };
const dataDir = process.env.LOCAL_DATA_DIR || ".data";
const portOf = (u: string | undefined, fallback: number) =>
  u ? Number(new URL(u).port) || fallback : fallback;
const say = (line: string) => console.log(`[dev ${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);

const stops: (() => Promise<void>)[] = [];
let worker: ChildProcess | undefined;
let stopping = false;

async function main() {
  // The endpoint serves the database the app's connection string names.
  const database = vars.DATABASE_URL
    ? new URL(vars.DATABASE_URL).pathname.slice(1) || LOCAL.database
    : LOCAL.database;
  const neon = await startNeonEndpoint({
    port: portOf(vars.NEON_FETCH_ENDPOINT, LOCAL.ports.neon),
    postgresUrl: vars.LOCAL_POSTGRES_URL || undefined,
    database,
    dataDir: `${dataDir}/pglite/${database}`,
    log: (l) => say(`neon: ${l}`),
  });
  stops.push(() => neon.close());
  say(`Neon endpoint   ${neon.url} (${neon.backend}, database ${database})`);
  // Without the password: connection strings are never printed (it is DATABASE_OWNER_URL's).
  say(`  over TCP too   psql postgresql://fisioflow_owner@localhost:${neon.port}/${database}`);
  configureNeonForLocal(neon);

  // Branches and their endpoints outlive a restart: their data stays (databases or data dirs).
  const api = await startNeonApi({
    endpoint: neon,
    database,
    postgresUrl: vars.LOCAL_POSTGRES_URL || undefined,
    dataDir: `${dataDir}/pglite/${database}`,
    apiKey: vars.NEON_API_KEY || undefined,
    projectId: vars.NEON_PROJECT_ID || undefined,
    stateFile: `${dataDir}/neon-api/${database}.json`,
    log: (l) => say(`neon api: ${l}`),
  });
  stops.push(() => api.close());
  say(`Neon API        ${api.url} (project ${api.projectId}, key NEON_API_KEY)`);
  say(
    `  e.g.           npx neonctl branches list --api-host ${api.url} --project-id ${api.projectId} --no-analytics`,
  );

  const redis = await startUpstashRedis({
    port: portOf(vars.UPSTASH_REDIS_REST_URL, LOCAL.ports.redis),
    token: vars.UPSTASH_REDIS_REST_TOKEN,
    redisUrl: vars.REDIS_URL || undefined,
  });
  stops.push(() => redis.close());
  say(`Upstash Redis   ${redis.url} (${redis.backend})`);

  const qstash = await startQStash({ port: portOf(vars.QSTASH_URL, LOCAL.ports.qstash) });
  stops.push(() => qstash.close());
  say(`QStash          ${qstash.url}`);

  const ownerUrl = vars.DATABASE_OWNER_URL;
  if (!ownerUrl) throw new Error("DATABASE_OWNER_URL is not set (.dev.vars.example has a local value)");
  // The worker signs each caller's identity with DB_IDENTITY_KEY; the database must hold it too.
  const identityKey = {
    kid: vars.DB_IDENTITY_KEY_ID || LOCAL.identityKey.kid,
    secret: vars.DB_IDENTITY_KEY || LOCAL.identityKey.secret,
  };
  const m = await migrate(ownerUrl, { identityKey, log: (l) => say(`migrate: ${l}`) });
  say(`migrations      ${m.applied.length} applied, ${m.skipped.length} already there`);

  const publicUrl = vars.PUBLIC_URL ?? `http://127.0.0.1:${LOCAL.ports.worker}`;
  const port = portOf(publicUrl, LOCAL.ports.worker);
  // The worker gets exactly the merged vars, through a generated env file only we can read.
  mkdirSync(dataDir, { recursive: true });
  const envFile = `${dataDir}/worker.vars.generated`;
  const lines = Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  writeFileSync(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });
  chmodSync(envFile, 0o600);
  worker = spawn(
    process.execPath,
    [
      "node_modules/wrangler/bin/wrangler.js",
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--env-file",
      envFile,
      "--show-interactive-dev-session=false",
    ],
    { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  worker.on("exit", (code) => {
    if (!stopping) {
      say(`wrangler dev exited (${code}); stopping`);
      void shutdown(1);
    }
  });
  await waitForHealth(`${publicUrl}/health`);
  say(`Worker          ${publicUrl}  (try: curl ${publicUrl}/health)`);
  say(`Ops dashboard   ${publicUrl}/ops  (sign in with: npm run -s token -- --role admin)`);

  const sync = await syncSchedules({ qstashUrl: qstash.url, qstashToken: qstash.token, publicUrl });
  say(`schedules       ${[...sync.upserted, ...sync.unchanged].join(", ")} in local QStash`);
  say("ready. Ctrl-C stops everything.");
}

async function waitForHealth(url: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(url).catch(() => undefined); // undefined: not listening yet
    if (res?.status === 200 || res?.status === 503) return;
    if (res?.status === 500) throw new Error(`worker answers ${url} with 500: ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`worker did not answer ${url} within ${timeoutMs / 1000}s`);
}

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  say("stopping…");
  if (worker && worker.exitCode === null) {
    worker.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const stop of stops.reverse()) await stop().catch(() => {});
  process.exit(code);
}

function pick(env: NodeJS.ProcessEnv, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (env[k] !== undefined) out[k] = env[k]!;
  return out;
}

process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
main().catch(async (err) => {
  console.error(`[dev] failed: ${(err as Error).message}`);
  await shutdown(1);
});
