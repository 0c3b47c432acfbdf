/**
 * `npm run bench` (`tsx bench/api/run.ts [--duration N] [--only <variant,...>] [--endpoints <key,...>]`):
 * the API under load, against what it is built on.
 *
 * 1. Drops and recreates database fisioflow_bench on the machine's PostgreSQL (LOCAL_POSTGRES_URL),
 *    starts the local Neon endpoint on it (postgres backend, own process), migrates, and seeds
 *    10 000 pacientes with 12 consultas each (db/seed.ts).
 * 2. Starts, each in its own process, the variants of the same endpoints, all as authenticated
 *    fisioterapeutas under RLS: ours-node (the real app under Node), ours-workerd (the same app
 *    under wrangler's local runtime, workerd), neon-bare (node:http + neon()), pg-pool (node:http +
 *    pg Pool) and pgbench (the database's ceiling, read endpoints only); and workerd-ceiling, a
 *    worker answering 200 "ok" run as ours-workerd is (wrangler dev's own ceiling, measured once).
 * 3. For every endpoint × variant: 3 s warm-up, then autocannon (50 connections) for BENCH_DURATION
 *    (default 20) or --duration seconds: req/s, p50/p95/p99, non-2xx, errors, Neon HTTP round trips
 *    per request, CPU per process.
 * 4. Writes bench/results/api.json and bench/results/api.md.
 * 5. Stops everything it started and drops the database, on failure and on Ctrl-C too; a watchdog
 *    bounds the whole run. All traffic stays on 127.0.0.1.
 *
 * BENCH_CPU_PROFILE=<dir>: each Node server (not workerd) writes a V8 CPU profile to <dir>/<variant>/
 * when it stops (`npx tsx bench/api/profile.ts <file>` sums it by package).
 *
 * Waits up to BENCH_WAIT_QUIET seconds (default 90) for a 1-minute load average ≤ 1 first.
 *
 * Part of the bench, quickly: `--only ours-node,ours-workerd` (variants: ours-node, ours-node-no-redis, ours-workerd,
 * neon-bare, pg-pool, pgbench, workerd-ceiling) and `--endpoints paciente-get,consultas-list`
 * (paciente-get, consultas-list, pacientes-search, consultas-create). A partial run does not touch
 * bench/results: it writes api.json / api.md to $TMPDIR/fisioflow-bench-api-partial/ and says where.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import process from "node:process";
import autocannon from "autocannon";
import pg from "pg";
import { migrate } from "../../db/migrate";
import { openClient } from "../../db/owner-client";
import { seed } from "../../db/seed";
import { LOCAL } from "../../dev/config";
import { configureNeonForLocal } from "../../dev/neon/client";
import { RespClient } from "../../dev/upstash-redis/resp";
import { tokenFor } from "../../test/harness/auth";
import {
  ADMIN_URL,
  APP_ROLE,
  type BenchData,
  bookConsulta,
  consultasOfPaciente,
  DATABASE,
  DURACAO_MIN,
  ENDPOINTS,
  type EndpointKey,
  type Pair,
  pacienteById,
  ROLE,
  type Statement,
  searchPacientes,
  spawnTsx,
  USER_HEADER,
} from "./common";
import { CpuSampler, descendants } from "./cpu";
import { findPgbench, percentile, runPgbench, SCRIPTS, writeScripts } from "./pgbench";
import { preparePrisma } from "./prisma-backend";
import {
  ALL_VARIANTS,
  type AnyVariant,
  barOf,
  CEILING,
  type EndpointResult,
  type Measured,
  markdown,
  NO_REDIS,
  type Outcome,
  type Report,
  ratio,
  type Variant,
} from "./report";
import { STATS_PATH } from "./worker-stats";

// ------------------------------------------------------------------------------------ settings

function durationFromArgs(): number {
  const i = process.argv.indexOf("--duration");
  const raw = i >= 0 ? process.argv[i + 1] : (process.env.BENCH_DURATION ?? "20");
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 1 || n > 600) {
    console.error(`--duration / BENCH_DURATION must be 1..600 seconds, not ${raw}`);
    process.exit(2);
  }
  return Math.round(n);
}

/** `--<flag> a,b,c` checked against `allowed`; null when the flag is absent. */
function listFromArgs<T extends string>(flag: string, allowed: readonly T[]): T[] | null {
  const i = process.argv.indexOf(flag);
  if (i < 0) return null;
  const names = (process.argv[i + 1] ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !allowed.includes(n as T));
  if (!names.length || bad.length) {
    console.error(
      `${flag} takes a comma-separated list of ${allowed.join(", ")}; not ${bad.join(", ") || "nothing"}`,
    );
    process.exit(2);
  }
  return names as T[];
}

const DURATION_S = durationFromArgs();
const ONLY = listFromArgs<AnyVariant>("--only", ALL_VARIANTS);
const ENDPOINT_KEYS = listFromArgs<EndpointKey>(
  "--endpoints",
  ENDPOINTS.map((e) => e.key),
);
const PARTIAL = ONLY !== null || ENDPOINT_KEYS !== null;
const SELECTED = new Set<AnyVariant>(ONLY ?? ALL_VARIANTS);
const SELECTED_ENDPOINTS = ENDPOINTS.filter((e) => !ENDPOINT_KEYS || ENDPOINT_KEYS.includes(e.key));
const WARMUP_S = 3;
const CONNECTIONS = 50;
const PACIENTES = 10_000;
const CONSULTAS_POR_PACIENTE = 12;
const PGBENCH_CLIENTS = 50;
const WAIT_QUIET_S = Number(process.env.BENCH_WAIT_QUIET ?? 90);
/** A logical Redis db of the bench's own (the test suites use 1–6), flushed before and after. */
const REDIS_DB = 13;
const JWT_SECRET = `bench-api-${randomBytes(24).toString("hex")}`;
/** Bookings start here, an hour apart: far from the seeded agenda and from each other. */
const SLOT_BASE = Date.UTC(2100, 0, 4, 12);
/** Measured runs: the selected variants on the selected endpoints (pgbench on reads), and the ceiling. */
const RUNS =
  SELECTED_ENDPOINTS.reduce(
    (n, e) => n + [...SELECTED].filter((v) => v !== CEILING && (v !== "pgbench" || e.read)).length,
    0,
  ) + Number(SELECTED.has(CEILING));
const WATCHDOG_S = WAIT_QUIET_S + 600 + RUNS * (DURATION_S + WARMUP_S + 20) + 120;

const log = (line: string) => console.log(`[bench] ${line}`);
const WRANGLER_VERSION = (
  JSON.parse(readFileSync("node_modules/wrangler/package.json", "utf8")) as { version: string }
).version;

// ------------------------------------------------------------------------------ what to clean up

const children = new Map<string, ChildProcess>();
/** Processes under the wrangler launchers (workerd, esbuild), to be sure none outlives the bench. */
const grandchildren = new Map<string, { pid: number; comm: string }[]>();
const trackers = new Set<{ stop(): void }>();
let tempDir: string | undefined;
let redisForFlush: string | undefined;
let cleaning: Promise<void> | undefined;

function adminUrl(database: string, user?: string): string {
  const url = new URL(ADMIN_URL);
  if (user) {
    url.username = user;
    url.password = "";
  }
  url.pathname = `/${database}`;
  return url.toString();
}

async function adminQuery(text: string, database = new URL(ADMIN_URL).pathname.slice(1) || "postgres") {
  const c = new pg.Client({ connectionString: adminUrl(database), connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end().catch(() => {});
  }
}

async function stopChild(name: string, child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    log(`${name} did not stop in 5 s: SIGKILL`);
    child.kill("SIGKILL");
  }, 5000);
  await exited;
  clearTimeout(timer);
}

async function flushRedis(url: string): Promise<void> {
  const client = new RespClient(url, 1);
  try {
    await Promise.race([
      client.command(["FLUSHDB"]),
      new Promise((_, reject) => setTimeout(() => reject(new Error("FLUSHDB timed out")), 3000)),
    ]);
  } finally {
    client.close();
  }
}

/** Stops everything the bench started and drops its database; safe to call more than once. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const t of trackers) t.stop();
    // Servers first, then the endpoint and the emulator they talk to.
    const order = [...children.entries()].sort(
      ([a], [b]) => Number(a === "endpoint") - Number(b === "endpoint"),
    );
    for (const [name, known] of grandchildren)
      grandchildren.set(name, [...known, ...descendants(children.get(name)?.pid)]);
    await Promise.all(order.filter(([n]) => n !== "endpoint").map(([n, c]) => stopChild(n, c)));
    // wrangler disposes of its workerd processes on SIGTERM; if it was killed instead, they remain.
    const killed = new Set<number>();
    for (const [name, procs] of grandchildren)
      for (const { pid, comm } of procs) {
        if (killed.has(pid)) continue;
        // Still running (not a zombie about to be reaped), and still the same program (not a reused pid)?
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
          const state = stat.split(") ")[1]?.[0];
          if (state === "Z" || readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== comm) continue;
          killed.add(pid);
          process.kill(pid, "SIGKILL");
          log(`${name}: killed leftover ${comm} ${pid}`);
        } catch {
          // gone meanwhile
        }
      }
    const endpoint = children.get("endpoint");
    if (endpoint) await stopChild("endpoint", endpoint);
    try {
      await adminQuery(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
      log(`dropped database ${DATABASE}`);
    } catch (err) {
      log(`could not drop ${DATABASE}: ${(err as Error).message}`);
    }
    if (redisForFlush) await flushRedis(redisForFlush).catch(() => {});
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  })();
  return cleaning;
}

let exiting = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (exiting) return;
    exiting = true;
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  log(`watchdog: still running after ${WATCHDOG_S} s, giving up`);
  exiting = true;
  void cleanup().finally(() => process.exit(1));
}, WATCHDOG_S * 1000);
watchdog.unref();

/** Starts `script` under tsx in its own process (stopped by cleanup); resolves with its ready capture. */
function spawnChild(
  name: string,
  script: string,
  env: Record<string, string>,
  ready: RegExp,
): Promise<string> {
  // BENCH_CPU_PROFILE=<dir>: the Node servers write a V8 CPU profile there when they stop.
  const profileDir = process.env.BENCH_CPU_PROFILE;
  const nodeArgs =
    profileDir && script.startsWith("bench/api/server-") && !script.endsWith("workerd.ts")
      ? ["--cpu-prof", "--cpu-prof-dir", join(profileDir, name)]
      : [];
  const started = spawnTsx(script, env, ready, nodeArgs);
  children.set(name, started.child);
  return Promise.race([
    started.ready,
    new Promise<string>((_, reject) =>
      setTimeout(() => reject(new Error(`${name} not ready after 60 s`)), 60_000).unref(),
    ),
  ]);
}

// ---------------------------------------------------------------------------------- the machine

const loadSamples: number[] = [];

async function waitForQuiet(): Promise<void> {
  const deadline = Date.now() + WAIT_QUIET_S * 1000;
  if (os.loadavg()[0]! > 1 && WAIT_QUIET_S > 0)
    log(`load average ${os.loadavg()[0]!.toFixed(2)}: waiting up to ${WAIT_QUIET_S} s for a quiet machine`);
  while (os.loadavg()[0]! > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5000));
}

// ------------------------------------------------------------------------------------- the data

async function prepareDatabase(): Promise<{
  endpoint: { sqlUrl: string; wsProxy: string; statsUrl: string; appUrl: string; ownerUrl: string };
  seeded: Record<string, number>;
  migrateSeconds: number;
  seedSeconds: number;
}> {
  log(`dropping database ${DATABASE} if it exists`);
  await adminQuery(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  log("starting the local Neon endpoint (postgres backend; it creates the database and its roles)");
  const endpoint = JSON.parse(
    await spawnChild(
      "endpoint",
      "bench/api/endpoint.ts",
      { LOCAL_POSTGRES_URL: ADMIN_URL },
      /^(\{.*"statsUrl".*\})$/m,
    ),
  ) as { sqlUrl: string; wsProxy: string; statsUrl: string; appUrl: string; ownerUrl: string };
  configureNeonForLocal(endpoint);
  let t = Date.now();
  log("migrating (as the owner, through the endpoint)");
  const migrated = await migrate(endpoint.ownerUrl, { neon: true, identityKey: LOCAL.identityKey });
  const migrateSeconds = Math.round((Date.now() - t) / 100) / 10;
  log(`migrated: ${migrated.applied.length} files in ${migrateSeconds} s`);
  t = Date.now();
  log(`seeding ${PACIENTES} pacientes × ${CONSULTAS_POR_PACIENTE} consultas (through the endpoint)`);
  const { client, close } = await openClient(endpoint.ownerUrl, true);
  let seeded: Record<string, number>;
  try {
    const report = await seed(client, {
      pacientes: PACIENTES,
      consultasPorPaciente: CONSULTAS_POR_PACIENTE,
      log: (line) => {
        if (!/^ {2}\S+: \d+\/\d+$/.test(line) || / (\d+)\/\1$/.test(line)) log(`seed ${line.trim()}`);
      },
    });
    seeded = report.counts;
  } finally {
    await close();
  }
  const seedSeconds = Math.round((Date.now() - t) / 100) / 10;
  log(`seeded in ${seedSeconds} s: ${JSON.stringify(seeded)}`);
  return { endpoint, seeded, migrateSeconds, seedSeconds };
}

/** Who calls what: every active paciente with a month of consultas, and the commonest surnames. */
async function benchData(): Promise<BenchData> {
  const db = new pg.Client({ connectionString: adminUrl(DATABASE) });
  await db.connect();
  try {
    const pairs = await db.query<Pair>(`
      SELECT paciente, fisio,
             to_char(m, 'YYYY-MM-DD"T"00:00:00"Z"') AS "from",
             to_char(m + interval '1 month', 'YYYY-MM-DD"T"00:00:00"Z"') AS "to"
        FROM (SELECT DISTINCT ON (c.paciente_id) c.paciente_id AS paciente, c.fisioterapeuta_id AS fisio,
                     date_trunc('month', c.data_consulta AT TIME ZONE 'UTC') AS m
                FROM public.consultas c
                JOIN public.pacientes p ON p.id = c.paciente_id AND p.status = 'ativo'
               ORDER BY c.paciente_id, random()) x`);
    const surnames = await db.query<{ s: string }>(`
      SELECT split_part(nome, ' ', -1) AS s FROM public.pacientes
       GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 5`);
    return { pairs: pairs.rows, surnames: surnames.rows.map((r) => r.s) };
  } finally {
    await db.end();
  }
}

// ------------------------------------------------------------------------------------- requests

let slot = 0;
/** A start instant no booking has used: an hour after the previous one. */
const nextSlot = () => new Date(SLOT_BASE + slot++ * 3_600_000).toISOString();
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

interface HttpRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function httpRequest(key: EndpointKey, data: BenchData, tokens: Map<string, string>): HttpRequest {
  const p = pick(data.pairs);
  const headers: Record<string, string> = {
    authorization: `Bearer ${tokens.get(p.fisio)}`,
    [USER_HEADER]: p.fisio,
  };
  switch (key) {
    case "paciente-get":
      return { method: "GET", path: `/v1/pacientes/${p.paciente}`, headers };
    case "consultas-list":
      return {
        method: "GET",
        path: `/v1/consultas?paciente_id=${p.paciente}&from=${encodeURIComponent(p.from)}&to=${encodeURIComponent(p.to)}`,
        headers,
      };
    case "pacientes-search":
      return { method: "GET", path: `/v1/pacientes?q=${encodeURIComponent(pick(data.surnames))}`, headers };
    case "consultas-create":
      return {
        method: "POST",
        path: "/v1/consultas",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({
          paciente_id: p.paciente,
          data_consulta: nextSlot(),
          duracao_min: DURACAO_MIN,
        }),
      };
  }
}

/** The statement a read endpoint runs for a random caller (pgbench scripts). */
function readStatement(key: EndpointKey, data: BenchData): { userId: string; statement: Statement } {
  const p = pick(data.pairs);
  const statement =
    key === "paciente-get"
      ? pacienteById(p.paciente)
      : key === "consultas-list"
        ? consultasOfPaciente(p.paciente, p.from, p.to)
        : key === "pacientes-search"
          ? searchPacientes(pick(data.surnames))
          : bookConsulta(p.fisio, p.paciente, nextSlot());
  return { userId: p.fisio, statement };
}

async function tokensFor(fisios: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of fisios) out.set(f, await tokenFor({ userId: f, role: ROLE }, JWT_SECRET, "3h"));
  return out;
}

// ------------------------------------------------------------------------------------ measuring

type HttpVariant = Exclude<AnyVariant, "pgbench">;

interface Context {
  data: BenchData;
  tokens: Map<string, string>;
  /** The endpoint's counters ({ sqlRequests }). */
  statsUrl: string;
  /** Each server's port, and the URL of its counters ({ requests, inFlight, redisCalls? }). */
  ports: Partial<Record<HttpVariant, { port: string; stats: string }>>;
}

interface Counters {
  requests: number;
  inFlight: number;
  redisCalls: number;
  sqlRequests: number;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  return (await res.json()) as T;
}

async function counters(variant: HttpVariant, ctx: Context): Promise<Counters> {
  const [server, endpoint] = await Promise.all([
    getJson<{ requests: number; inFlight: number; redisCalls?: number }>(ctx.ports[variant]!.stats),
    getJson<{ sqlRequests: number }>(ctx.statsUrl),
  ]);
  return { ...server, redisCalls: server.redisCalls ?? 0, sqlRequests: endpoint.sqlRequests };
}

/**
 * Waits (at most 15 s) until the server has no request in flight: autocannon stops at its deadline
 * and leaves requests behind, which the server still runs (and which would land in the next window).
 */
async function drained(variant: HttpVariant, ctx: Context): Promise<Counters> {
  const deadline = Date.now() + 15_000;
  let c = await counters(variant, ctx);
  while (c.inFlight > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    c = await counters(variant, ctx);
  }
  return c;
}

/** Every variant's processes, by the name their CPU is reported under. */
function processesOf(variant: HttpVariant) {
  const pid = (n: string) => children.get(n)?.pid;
  const tree = (n: string) => {
    const under = descendants(pid(n));
    return {
      server: [pid(n), ...under.filter((p) => p.comm !== "workerd").map((p) => p.pid)].filter(
        (p): p is number => p !== undefined,
      ),
      workerd: under.filter((p) => p.comm === "workerd").map((p) => p.pid),
    };
  };
  return (): Record<string, number | number[] | undefined> =>
    variant === "ours-workerd"
      ? { ...tree(variant), "neon endpoint": pid("endpoint"), "upstash emulator": pid("redis-emulator") }
      : variant === CEILING
        ? tree(variant)
        : variant === "ours-node" || variant === NO_REDIS
          ? {
              server: pid(variant),
              "neon endpoint": pid("endpoint"),
              "upstash emulator": pid("redis-emulator"),
            }
          : variant === "neon-bare" || variant === "prisma"
            ? { server: pid(variant), "neon endpoint": pid("endpoint") }
            : { server: pid("pg-pool") };
}

function perRequest(cpu: Record<string, number>, total: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(cpu).map(([k, s]) => [k, Math.round((s * 1e6) / Math.max(1, total)) / 1000]),
  );
}

/** GET / for the ceiling (any path answers "ok"), else a request of the endpoint. */
function requestOf(key: EndpointKey | null, ctx: Context): HttpRequest {
  return key ? httpRequest(key, ctx.data, ctx.tokens) : { method: "GET", path: "/", headers: {} };
}

async function driveHttp(
  variant: HttpVariant,
  key: EndpointKey | null,
  ctx: Context,
  seconds: number,
  latencies?: number[],
) {
  const tracker = autocannon({
    url: `http://127.0.0.1:${ctx.ports[variant]!.port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [{ setupRequest: (req) => ({ ...req, ...requestOf(key, ctx) }) }],
  }) as unknown as Promise<AutocannonResult> & {
    on(event: "response", fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
    stop(): void;
  };
  trackers.add(tracker);
  if (latencies) tracker.on("response", (_c, _s, _b, ms) => latencies.push(ms));
  try {
    return await tracker;
  } finally {
    trackers.delete(tracker);
  }
}

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}

async function measureHttp(variant: HttpVariant, key: EndpointKey | null, ctx: Context): Promise<Measured> {
  const app = variant === "ours-node" || variant === "ours-workerd" || variant === NO_REDIS;
  await driveHttp(variant, key, ctx, WARMUP_S);
  const c0 = await drained(variant, ctx);
  const sampler = new CpuSampler(processesOf(variant), DATABASE, {
    redis: app,
    driver: true,
  });
  const latencies: number[] = [];
  sampler.start();
  const r = await driveHttp(variant, key, ctx, DURATION_S, latencies);
  const cpu = sampler.stop();
  const c1 = await drained(variant, ctx);
  loadSamples.push(os.loadavg()[0]!);
  // Per request the server ran (left-behind ones included, so every counted call has its request).
  const served = Math.max(1, c1.requests - c0.requests);
  const per = (n: number) => Math.round((n / served) * 100) / 100;
  const total = r.requests.total;
  const sorted = Float64Array.from(latencies).sort();
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([c, s]) => [c, s.count]));
  return {
    status: "measured",
    requestsPerSec: Math.round(total / r.duration),
    latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
    total,
    seconds: Math.round(r.duration * 10) / 10,
    non2xx: r.non2xx,
    statusCodes,
    errors: r.errors + r.timeouts,
    // prisma talks to the endpoint over its WebSocket (BEGIN, identity, query, COMMIT on a pooled
    // session: four exchanges per request), not /sql: no HTTP round trips to count.
    neonRoundTripsPerRequest:
      variant === "pg-pool" || variant === "prisma" || variant === CEILING
        ? "n/a"
        : per(c1.sqlRequests - c0.sqlRequests),
    redisCallsPerRequest: app ? per(c1.redisCalls - c0.redisCalls) : "n/a",
    cpuSeconds: cpu.processes,
    cpuMsPerRequest: perRequest(cpu.processes, total),
    machine: cpu.machine,
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
    ...(app && key === "paciente-get" && variant !== NO_REDIS
      ? {
          note:
            `${variant} on GET /v1/pacientes/:id serves repeat reads from its Redis cache (60 s TTL, per caller): ` +
            "round trips below 1 are the share that reached the database.",
        }
      : {}),
  };
}

async function measurePgbench(key: EndpointKey, ctx: Context, bin: string | null): Promise<Outcome> {
  if (!bin)
    return { status: "skipped", reason: "pgbench not found (/usr/lib/postgresql/15/bin/pgbench, pgbench)" };
  if (key === "consultas-create")
    return { status: "skipped", reason: "reads only (the ceiling is for the read SQL)" };
  const items = Array.from({ length: SCRIPTS }, () => readStatement(key, ctx.data));
  const scripts = await writeScripts(tempDir!, key, items);
  const url = new URL(ADMIN_URL);
  const common = {
    bin,
    dir: tempDir!,
    scripts,
    clients: PGBENCH_CLIENTS,
    threads: Math.max(1, Math.min(4, os.availableParallelism())),
    host: "127.0.0.1",
    port: Number(url.port || 5432),
    onSpawn: (c: ChildProcess) => children.set("pgbench", c),
  };
  const warm = await runPgbench({ ...common, seconds: WARMUP_S });
  if (warm.exitCode !== 0 && warm.total === 0)
    return { status: "skipped", reason: `pgbench failed: ${warm.stderr ?? `exit ${warm.exitCode}`}` };
  let pgbenchPid: number | undefined;
  const sampler = new CpuSampler(() => ({ pgbench: pgbenchPid }), DATABASE, { redis: false, driver: false });
  sampler.start();
  const r = await runPgbench({
    ...common,
    seconds: DURATION_S,
    logPrefix: `${key}-log`,
    onSpawn: (c) => {
      children.set("pgbench", c);
      pgbenchPid = c.pid;
    },
  });
  const cpu = sampler.stop();
  children.delete("pgbench");
  loadSamples.push(os.loadavg()[0]!);
  return {
    status: "measured",
    requestsPerSec: r.requestsPerSec,
    latencyMs: r.latencyMs,
    total: r.total,
    seconds: DURATION_S,
    non2xx: 0,
    statusCodes: {},
    errors: r.failed + (r.exitCode === 0 ? 0 : 1),
    neonRoundTripsPerRequest: "n/a",
    redisCallsPerRequest: "n/a",
    cpuSeconds: cpu.processes,
    cpuMsPerRequest: perRequest(cpu.processes, r.total),
    machine: cpu.machine,
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
    ...(r.exitCode !== 0 ? { note: `pgbench exited with ${r.exitCode}: ${r.stderr}` } : {}),
  };
}

/** One request per endpoint and HTTP variant before any load: a wrong setup fails here, loudly. */
async function smokeTest(ctx: Context): Promise<void> {
  const variants = Object.keys(ctx.ports) as HttpVariant[];
  type Probe = [HttpVariant, EndpointKey | null];
  const probes = variants.flatMap((v): Probe[] =>
    v === CEILING ? [[v, null]] : SELECTED_ENDPOINTS.map((e): Probe => [v, e.key]),
  );
  for (const [variant, key] of probes) {
    const req = requestOf(key, ctx);
    const res = await fetch(`http://127.0.0.1:${ctx.ports[variant]!.port}${req.path}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${variant} ${req.method} ${req.path}: ${res.status} ${text}`);
  }
  log(`smoke test: ${variants.join(", ")} answer every endpoint with 2xx`);
}

// ----------------------------------------------------------------------------------------- main

async function serverVersion(): Promise<string> {
  try {
    return String((await adminQuery("show server_version")).rows[0].server_version);
  } catch {
    return "unknown";
  }
}

async function pgbenchVersion(bin: string | null): Promise<string | null> {
  if (!bin) return null;
  const { execFileSync } = await import("node:child_process");
  try {
    return execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

async function startRedisEmulator(): Promise<{ url: string; backend: string }> {
  const base = new URL(process.env.REDIS_URL || "redis://127.0.0.1:6379");
  base.pathname = `/${REDIS_DB}`;
  let redisUrl: string | undefined = base.toString();
  try {
    await flushRedis(redisUrl);
    redisForFlush = redisUrl;
  } catch (err) {
    log(`redis-server not reachable (${(err as Error).message}): the emulator uses its in-memory store`);
    redisUrl = undefined;
  }
  const url = await spawnChild(
    "redis-emulator",
    "dev/upstash-redis/main.ts",
    { PORT: "0", REDIS_URL: redisUrl ?? "", UPSTASH_REDIS_REST_TOKEN: LOCAL.redisToken },
    /UPSTASH_REDIS_REST_URL=(\S+)/,
  );
  return {
    url,
    backend: redisUrl
      ? `Upstash Redis emulator (dev/upstash-redis) on redis-server, logical db ${REDIS_DB}`
      : "Upstash Redis emulator, in-memory store (redis-server was not reachable)",
  };
}

async function main(): Promise<void> {
  await waitForQuiet();
  const started = Date.now();
  const loadBefore = os.loadavg()[0]!;
  tempDir = mkdtempSync(join(os.tmpdir(), "fisioflow-bench-api-"));
  const pgbench = findPgbench();

  const { endpoint, seeded, migrateSeconds, seedSeconds } = await prepareDatabase();
  const data = await benchData();
  const fisios = [...new Set(data.pairs.map((p) => p.fisio))];
  log(`${data.pairs.length} callers (fisioterapeuta, active paciente) over ${fisios.length} fisioterapeutas`);
  const tokens = await tokensFor(fisios);

  const redis = await startRedisEmulator();
  log(`starting the servers (${redis.backend})`);
  const server = async (name: string, script: string, env: Record<string, string>) => {
    const [port, stats] = (await spawnChild(name, script, env, /READY (\d+ \d+)/)).split(" ");
    return { port: port!, stats: stats! };
  };
  const pgPoolUrl = adminUrl(DATABASE, APP_ROLE);
  // ours-node and ours-workerd: the same bindings (bindings.ts).
  const appEnv = {
    APP_DATABASE_URL: endpoint.appUrl,
    APP_NEON_FETCH_ENDPOINT: endpoint.sqlUrl,
    APP_NEON_WS_PROXY: endpoint.wsProxy,
    APP_JWT_SECRET: JWT_SECRET,
    APP_RATE_LIMIT_PER_MINUTE: "100000",
    APP_LOG_LEVEL: "error",
    APP_UPSTASH_REDIS_REST_URL: redis.url,
    APP_UPSTASH_REDIS_REST_TOKEN: LOCAL.redisToken,
  };
  const launchers: Record<HttpVariant, () => Promise<{ port: string; stats: string }>> = {
    "ours-node": async () => {
      const p = await server("ours-node", "bench/api/server-ours.ts", appEnv);
      return { port: p.port, stats: `http://127.0.0.1:${p.stats}/` };
    },
    // The same app without Upstash: no rate limit and no cache (Redis is optional by design), so
    // it shows what the rest of our layers cost next to neon-bare.
    [NO_REDIS]: async () => {
      const p = await server(NO_REDIS, "bench/api/server-ours.ts", {
        ...appEnv,
        APP_UPSTASH_REDIS_REST_URL: "",
        APP_UPSTASH_REDIS_REST_TOKEN: "",
      });
      return { port: p.port, stats: `http://127.0.0.1:${p.stats}/` };
    },
    "ours-workerd": () => workerd("ours-workerd", "bench/api/worker-ours.ts", appEnv),
    "neon-bare": async () => {
      const p = await server("neon-bare", "bench/api/server-plain.ts", {
        MODE: "neon",
        DATABASE_URL: endpoint.appUrl,
        SQL_URL: endpoint.sqlUrl,
      });
      return { port: p.port, stats: `http://127.0.0.1:${p.stats}/` };
    },
    prisma: async () => {
      preparePrisma(log);
      const p = await server("prisma", "bench/api/server-plain.ts", {
        MODE: "prisma",
        DATABASE_URL: endpoint.appUrl,
        SQL_URL: endpoint.sqlUrl,
        WS_PROXY: endpoint.wsProxy,
      });
      return { port: p.port, stats: `http://127.0.0.1:${p.stats}/` };
    },
    "pg-pool": async () => {
      const p = await server("pg-pool", "bench/api/server-plain.ts", { MODE: "pg", DATABASE_URL: pgPoolUrl });
      return { port: p.port, stats: `http://127.0.0.1:${p.stats}/` };
    },
    [CEILING]: () => workerd(CEILING, "bench/api/worker-ok.ts", {}),
  };
  /** A worker entry under wrangler's local runtime (server-workerd.ts); its counters on STATS_PATH. */
  async function workerd(name: HttpVariant, entry: string, env: Record<string, string>) {
    const p = await server(name, "bench/api/server-workerd.ts", { ...env, WORKER_ENTRY: entry });
    const under = descendants(children.get(name)?.pid);
    grandchildren.set(name, under);
    log(
      `${name}: wrangler ${children.get(name)?.pid}, under it ${under.map((x) => `${x.comm} ${x.pid}`).join(", ")}`,
    );
    return { port: p.port, stats: `http://127.0.0.1:${p.stats}${STATS_PATH}` };
  }
  const ports: Context["ports"] = {};
  for (const v of Object.keys(launchers) as HttpVariant[])
    if (SELECTED.has(v)) ports[v] = await launchers[v]();
  const ctx: Context = { data, tokens, statsUrl: endpoint.statsUrl, ports };
  await smokeTest(ctx);

  const notRun = (v: string): Outcome => ({ status: "skipped", reason: `not run (--only without ${v})` });
  const report1 = (o: Outcome) =>
    log(
      o.status === "measured"
        ? `  ${o.requestsPerSec} req/s, p50 ${o.latencyMs.p50} / p95 ${o.latencyMs.p95} / p99 ${o.latencyMs.p99} ms, ` +
            `non-2xx ${o.non2xx}, errors ${o.errors}, round trips/req ${o.neonRoundTripsPerRequest}, ` +
            `Redis calls/req ${o.redisCallsPerRequest}`
        : `  skipped: ${o.reason}`,
    );
  let workerdCeiling = notRun(CEILING);
  if (SELECTED.has(CEILING)) {
    log(`${CEILING} (GET /, 200 "ok"): ${WARMUP_S} s warm-up + ${DURATION_S} s`);
    workerdCeiling = await measureHttp(CEILING, null, ctx);
    report1(workerdCeiling);
  }

  const results: EndpointResult[] = [];
  for (const e of SELECTED_ENDPOINTS) {
    const variants = {} as Record<Variant, Outcome>;
    // pg-pool first: its idle clients are gone (5 s) before pgbench opens its 50 connections.
    for (const v of [
      "pg-pool",
      "neon-bare",
      "prisma",
      "ours-node",
      NO_REDIS,
      "ours-workerd",
      "pgbench",
    ] as const) {
      if (!SELECTED.has(v)) {
        variants[v] = notRun(v);
        continue;
      }
      log(`${e.title} — ${v}: ${WARMUP_S} s warm-up + ${DURATION_S} s`);
      variants[v] =
        v === "pgbench" ? await measurePgbench(e.key, ctx, pgbench) : await measureHttp(v, e.key, ctx);
      report1(variants[v]);
    }
    results.push({
      key: e.key,
      title: e.title,
      read: e.read,
      variants,
      ratios: {
        oursToPrisma: ratio(variants["ours-node"], variants.prisma),
        oursToNeonBare: ratio(variants["ours-node"], variants["neon-bare"]),
        oursToPgPool: ratio(variants["ours-node"], variants["pg-pool"]),
        oursToPgbench: ratio(variants["ours-node"], variants.pgbench),
        noRedisToNeonBare: ratio(variants[NO_REDIS], variants["neon-bare"]),
        noRedisToPrisma: ratio(variants[NO_REDIS], variants.prisma),
        workerdToNode: ratio(variants["ours-workerd"], variants["ours-node"]),
        workerdToNeonBare: ratio(variants["ours-workerd"], variants["neon-bare"]),
        workerdToCeiling: ratio(variants["ours-workerd"], workerdCeiling),
      },
      bar: barOf(e.read, variants["ours-node"], variants.pgbench),
    });
  }

  const report: Report = {
    date: new Date().toISOString(),
    machine: {
      cores: os.availableParallelism(),
      cpu: os.cpus()[0]?.model,
      node: process.version,
      postgres: await serverVersion(),
      pgbench: await pgbenchVersion(pgbench),
      loadAverageBefore: Math.round(loadBefore * 100) / 100,
      loadAverageMaxDuringRun: Math.round(Math.max(loadBefore, ...loadSamples) * 100) / 100,
      loadAverageAfter: Math.round(os.loadavg()[0]! * 100) / 100,
    },
    setup: {
      database: DATABASE,
      seeded,
      migrateSeconds,
      seedSeconds,
      fisioterapeutas: fisios.length,
      pairs: data.pairs.length,
      surnames: data.surnames,
      connections: CONNECTIONS,
      durationSeconds: DURATION_S,
      warmupSeconds: WARMUP_S,
      pgbench: pgbench
        ? `pgbench (${PGBENCH_CLIENTS} clients, -M prepared) straight to PostgreSQL as the app role, each transaction ` +
          "`BEGIN READ ONLY; set_config(...); <the route's SQL>; COMMIT` with literals from one of " +
          `${SCRIPTS} script files (random callers); read endpoints only.`
        : "skipped: pgbench not found.",
      redis: redis.backend,
      workerd:
        `wrangler ${WRANGLER_VERSION}'s \`unstable_startWorker\` (bench/api/server-workerd.ts; the API under \`unstable_dev\`, ` +
        "which cannot switch the inspector off: it always opens one) with `dev.inspector: false` (no inspector; " +
        "`wrangler dev --help` has only --inspector-port/--inspector-ip, no off switch), wrangler.toml's compatibility " +
        "date and flags (nodejs_compat, minify), no watch, no dev registry, no persistence, log level error; the entry " +
        "bench/api/worker-ours.ts wraps createApp() with the bench's counters (requests, in flight, Redis fetches).",
      pools:
        "the local endpoint keeps 20 PostgreSQL connections per role (ours-node, ours-workerd and neon-bare share it); " +
        "pg-pool max 20; pgbench 50",
    },
    workerdCeiling,
    ...(PARTIAL
      ? { partial: { variants: [...SELECTED], endpoints: SELECTED_ENDPOINTS.map((e) => e.key) } }
      : {}),
    endpoints: results,
    notMeasured: [
      "Cloudflare's edge: ours-workerd is workerd under wrangler's local dev server (behind wrangler's proxy worker, " +
        "on this machine's cores), not a deployed Worker.",
      "A long run: these windows last seconds; the ten-minute soak with a PostgreSQL crash in the middle is " +
        "`npm run bench:soak` (soak.md).",
      "Real Neon over a network: the endpoint is local (loopback), so no network round-trip time is in these figures.",
    ],
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  };
  // A partial run leaves the committed results alone.
  const dir = PARTIAL ? join(os.tmpdir(), "fisioflow-bench-api-partial") : "bench/results";
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "api.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, "api.md"), markdown(report));
  log(`wrote ${dir}/api.json and ${dir}/api.md (${report.elapsedSeconds} s)`);
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  if (!exiting) {
    await cleanup();
    clearTimeout(watchdog);
    // Nothing is left to wait for; don't let a stray handle (a driver's socket) hold the exit.
    process.exit(process.exitCode ?? 0);
  }
}
