/**
 * `npm run bench:neon-endpoint`: how much the local Neon endpoint costs an app handler.
 *
 * Against the machine's PostgreSQL (LOCAL_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/postgres)
 * it seeds `pacientes` (10 000 rows) in database neon_bench, then drives servers of the same
 * handler (bench/neon-endpoint/server.ts), each in its own process, with autocannon
 * (50 connections, warm-up then 15 s each in 5 alternating rounds, random ids):
 *   pg      — node-postgres Pool (max 20) straight to PostgreSQL (the baseline);
 *   neon    — neon() over HTTP (Node's fetch) through the local endpoint (own process, postgres
 *             backend): the headline ratio is neon / pg;
 *   ceiling — the same neon() handler against a zero-cost /sql responder (ceiling.ts) that answers
 *             canned results without Postgres: the most any endpoint could give neon() here;
 *   diagnostics, not the goal metric — neon() through the endpoint with neonConfig.fetchFunction
 *             over node:http (neon-agent) and over undici's request() (neon-undici).
 * Waits (BENCH_WAIT_QUIET s, default 90) for a load average ≤ 1, and records it (other work on the
 * machine skews every figure). The run itself takes under 2 minutes.
 * Writes bench/results/neon-endpoint.json and .md.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import autocannon from "autocannon";
import pg from "pg";
import {
  ADMIN_URL,
  APP_ROLE,
  cpuSeconds,
  DATABASE,
  neonConnectionString,
  QUERY,
  spawnTsx,
  sqlHeaders,
} from "./shared";

const ROWS = 10_000;
const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 15);
const WARMUP_S = 3;
const ROUNDS = 5;

const children: ChildProcess[] = [];
const pids: Record<string, number> = {};

/** Machine-wide CPU ticks from /proc/stat: all, idle (+iowait), steal (taken by the hypervisor). */
function machineTicks(): { all: number; idle: number; steal: number } {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { all: f.reduce((a, b) => a + b, 0), idle: f[3]! + f[4]!, steal: f[7] ?? 0 };
  } catch {
    return { all: 0, idle: 0, steal: 0 };
  }
}

let machineDuringRounds = { busyPercent: 0, stealPercent: 0 };

function dbUrl(user: string): string {
  const url = new URL(ADMIN_URL);
  url.username = user;
  url.password = "";
  url.pathname = `/${DATABASE}`;
  return url.toString();
}

/** Spawns `tsx <script>` (killed when the bench ends) and resolves with the first capture of `ready`. */
function spawnChild(
  name: string,
  script: string,
  env: Record<string, string>,
  ready: RegExp,
): Promise<string> {
  const started = spawnTsx(script, env, ready);
  children.push(started.child);
  pids[name] = started.child.pid!;
  return started.ready;
}

async function ensureDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const exists = await admin.query("select 1 from pg_database where datname = $1", [DATABASE]);
  if (!exists.rowCount) await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
}

/** Seeds pacientes once (the endpoint has created the roles by now); returns some ids. */
async function seed(): Promise<string[]> {
  const db = new pg.Client({ connectionString: dbUrl(new URL(ADMIN_URL).username || "postgres") });
  await db.connect();
  await db.query(`CREATE TABLE IF NOT EXISTS pacientes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    nome text NOT NULL,
    email text NOT NULL,
    telefone text,
    data_nascimento date,
    criado_em timestamptz NOT NULL DEFAULT now()
  )`);
  const count = Number((await db.query("select count(*) from pacientes")).rows[0].count);
  if (count < ROWS) {
    await db.query("TRUNCATE pacientes");
    await db.query(
      `INSERT INTO pacientes (nome, email, telefone, data_nascimento)
       SELECT 'Paciente ' || g, 'paciente' || g || '@example.com', '+55 11 9' || lpad(g::text, 8, '0'),
              date '1950-01-01' + (g % 20000)
       FROM generate_series(1, $1) g`,
      [ROWS],
    );
    await db.query("ANALYZE pacientes");
  }
  await db.query(`GRANT SELECT ON pacientes TO ${APP_ROLE}`);
  const ids = (await db.query<{ id: string }>("select id from pacientes")).rows.map((r) => r.id);
  await db.end();
  return ids;
}

interface Measured {
  /** CPU milliseconds per request of the app server and of what serves its /sql (endpoint or ceiling). */
  appCpuMsPerRequest: number;
  sqlServerCpuMsPerRequest?: number;
  requestsPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  total: number;
}

async function drive(
  port: string,
  ids: string[],
  seconds: number,
): Promise<Omit<Measured, "appCpuMsPerRequest">> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        setupRequest: (req) => ({
          ...req,
          path: `/pacientes/${ids[Math.floor(Math.random() * ids.length)]}`,
        }),
      },
    ],
  });
  return {
    requestsPerSec: Math.round(result.requests.average),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

/** Each target's app process and the process serving its /sql (none for pg). */
const processesOf = {
  pg: { app: "pgApp", sql: null },
  neon: { app: "neonApp", sql: "endpoint" },
  ceiling: { app: "neonCeilingApp", sql: "ceiling" },
  "neon-agent": { app: "neonAgentApp", sql: "endpoint" },
  "neon-undici": { app: "neonUndiciApp", sql: "endpoint" },
} as const;

type Target = keyof typeof processesOf;

const loadSamples: number[] = [];

/**
 * Measures every target in alternating rounds (pg, neon, neon-agent, pg, ...) so that load from
 * other work on the machine, which comes and goes, falls on all of them alike.
 */
async function measureAll(ports: Record<Target, string>, ids: string[]): Promise<Record<Target, Measured>> {
  const targets = Object.keys(ports) as Target[];
  for (const t of targets) await drive(ports[t], ids, WARMUP_S);
  const empty = () => ({
    total: 0,
    seconds: 0,
    p50: [] as number[],
    p99: [] as number[],
    non2xx: 0,
    errors: 0,
    app: 0,
    sql: 0,
  });
  const acc = Object.fromEntries(targets.map((t) => [t, empty()])) as Record<
    Target,
    ReturnType<typeof empty>
  >;
  const roundSeconds = DURATION_S / ROUNDS;
  const ticks0 = machineTicks();
  for (let round = 0; round < ROUNDS; round++) {
    loadSamples.push(os.loadavg()[0]!);
    for (const t of targets) {
      const app = pids[processesOf[t].app];
      const sqlName = processesOf[t].sql;
      const sqlPid = sqlName ? pids[sqlName] : undefined;
      const app0 = cpuSeconds(app);
      const sql0 = cpuSeconds(sqlPid);
      const t0 = Date.now();
      const d = await drive(ports[t], ids, roundSeconds);
      const a = acc[t];
      a.seconds += (Date.now() - t0) / 1000;
      a.total += d.total;
      a.p50.push(d.latencyP50Ms);
      a.p99.push(d.latencyP99Ms);
      a.non2xx += d.non2xx;
      a.errors += d.errors;
      a.app += cpuSeconds(app) - app0;
      a.sql += cpuSeconds(sqlPid) - sql0;
    }
  }
  const ticks1 = machineTicks();
  const all = Math.max(1, ticks1.all - ticks0.all);
  machineDuringRounds = {
    busyPercent: Math.round((100 * (all - (ticks1.idle - ticks0.idle))) / all),
    stealPercent: Math.round((1000 * (ticks1.steal - ticks0.steal)) / all) / 10,
  };
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const out = {} as Record<Target, Measured>;
  for (const t of targets) {
    const a = acc[t];
    const perRequest = (s: number) => Math.round((s * 1000 * 1000) / Math.max(1, a.total)) / 1000;
    out[t] = {
      requestsPerSec: Math.round(a.total / a.seconds),
      latencyP50Ms: median(a.p50),
      latencyP99Ms: median(a.p99),
      non2xx: a.non2xx,
      errors: a.errors,
      total: a.total,
      appCpuMsPerRequest: perRequest(a.app),
      ...(processesOf[t].sql ? { sqlServerCpuMsPerRequest: perRequest(a.sql) } : {}),
    };
    console.log(
      `${t}: ${out[t].requestsPerSec} req/s, p50 ${out[t].latencyP50Ms} ms, p99 ${out[t].latencyP99Ms} ms, ` +
        `CPU/request app ${out[t].appCpuMsPerRequest} ms` +
        (processesOf[t].sql ? `, ${processesOf[t].sql} ${out[t].sqlServerCpuMsPerRequest} ms` : ""),
    );
  }
  return out;
}

/** One real /sql response of the endpoint for the benchmarked query (what the ceiling replays). */
async function captureResponse(sqlUrl: string, connectionString: string, id: string): Promise<string> {
  const res = await fetch(sqlUrl, {
    method: "POST",
    headers: sqlHeaders(connectionString),
    body: JSON.stringify({ query: QUERY, params: [id] }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`endpoint answered ${res.status}: ${text}`);
  return text;
}

const ratio = (a: Measured, b: Measured) => Math.round((a.requestsPerSec / b.requestsPerSec) * 100) / 100;

/** Waits (up to BENCH_WAIT_QUIET seconds, default 90) for the 1-minute load average to drop to 1. */
async function waitForQuiet(): Promise<void> {
  const deadline = Date.now() + Number(process.env.BENCH_WAIT_QUIET ?? 90) * 1000;
  if (os.loadavg()[0]! > 1)
    console.log(`load average ${os.loadavg()[0]!.toFixed(2)}: waiting for a quiet machine`);
  while (os.loadavg()[0]! > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5000));
}

async function main(): Promise<void> {
  await waitForQuiet();
  const started = Date.now();
  const loadBefore = os.loadavg()[0]!;
  await ensureDatabase();
  const endpointJson = await spawnChild(
    "endpoint",
    // ENDPOINT_SCRIPT: a copy of an older dev/neon/main.ts, to compare endpoint versions.
    process.env.ENDPOINT_SCRIPT ?? "dev/neon/main.ts",
    { PORT: "0", LOCAL_POSTGRES_URL: ADMIN_URL, NEON_DATABASE: DATABASE },
    /^(\{.*\})$/m,
  );
  const endpoint = JSON.parse(endpointJson) as { sqlUrl: string; url: string };
  const ids = await seed();
  const neonUrl = neonConnectionString();
  const canned = await captureResponse(endpoint.sqlUrl, neonUrl, ids[0]!);
  const ceilingPort = await spawnChild(
    "ceiling",
    "bench/neon-endpoint/ceiling.ts",
    { CANNED: canned, CANNED_ID: ids[0]! },
    /READY (\d+)/,
  );
  const app = (name: string, env: Record<string, string>) =>
    spawnChild(name, "bench/neon-endpoint/server.ts", env, /READY (\d+)/);
  const ports = {
    pg: await app("pgApp", { MODE: "pg", DATABASE_URL: dbUrl(APP_ROLE) }),
    neon: await app("neonApp", { MODE: "neon", DATABASE_URL: neonUrl, SQL_URL: endpoint.sqlUrl }),
    ceiling: await app("neonCeilingApp", {
      MODE: "neon",
      DATABASE_URL: neonUrl,
      SQL_URL: `http://127.0.0.1:${ceilingPort}/sql`,
    }),
    "neon-agent": await app("neonAgentApp", {
      MODE: "neon-agent",
      DATABASE_URL: neonUrl,
      SQL_URL: endpoint.sqlUrl,
    }),
    "neon-undici": await app("neonUndiciApp", {
      MODE: "neon-undici",
      DATABASE_URL: neonUrl,
      SQL_URL: endpoint.sqlUrl,
    }),
  };
  const m = await measureAll(ports, ids);
  loadSamples.push(os.loadavg()[0]!);
  const report: Report = {
    date: new Date().toISOString(),
    machine: {
      nproc: os.availableParallelism(),
      cpu: os.cpus()[0]?.model,
      node: process.version,
      // Other work on the machine skews every figure here; the 1-minute load average says how much
      // (the bench itself keeps about 2 busy: compare runs, not absolutes).
      loadAverageBefore: loadBefore,
      loadAverageMaxDuringRun: Math.max(...loadSamples),
      loadAverageAfter: os.loadavg()[0]!,
      // Whole machine during the measured rounds: the bench should keep it near 100% busy; CPU stolen
      // by the hypervisor (other VMs) is capacity none of the variants got.
      cpuDuringRounds: machineDuringRounds,
    },
    postgres: (await serverVersion()) ?? "unknown",
    setup: {
      rows: ROWS,
      connections: CONNECTIONS,
      durationSeconds: DURATION_S,
      warmupSeconds: WARMUP_S,
      rounds: ROUNDS,
      query: QUERY,
      pgPoolMax: 20,
      endpointPoolSize: 20,
    },
    pg: m.pg,
    neon: m.neon,
    ceiling: m.ceiling,
    /** The goal metric: neon() through the local endpoint vs pg. */
    ratioNeonToPg: ratio(m.neon, m.pg),
    /** The most any endpoint could reach with this client on this machine. */
    ratioCeilingToPg: ratio(m.ceiling, m.pg),
    /** How much of the ceiling the endpoint delivers. */
    endpointEfficiency: ratio(m.neon, m.ceiling),
    goalRatio: 0.6,
    diagnostics: {
      note: "not the goal metric: neon() with neonConfig.fetchFunction swapped, to isolate the cost of fetch()",
      neonWithNodeHttpFetch: m["neon-agent"],
      ratioNeonWithNodeHttpFetchToPg: ratio(m["neon-agent"], m.pg),
      neonWithUndiciRequest: m["neon-undici"],
      ratioNeonWithUndiciRequestToPg: ratio(m["neon-undici"], m.pg),
    },
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync("bench/results/neon-endpoint.json", `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync("bench/results/neon-endpoint.md", markdown(report));
  console.log(
    `ratio neon/pg = ${report.ratioNeonToPg}, ceiling/pg = ${report.ratioCeilingToPg}, ` +
      `efficiency neon/ceiling = ${report.endpointEfficiency} (${report.elapsedSeconds} s)`,
  );
}

interface Report {
  date: string;
  machine: {
    nproc: number;
    cpu?: string;
    node: string;
    loadAverageBefore: number;
    loadAverageMaxDuringRun: number;
    loadAverageAfter: number;
    cpuDuringRounds: { busyPercent: number; stealPercent: number };
  };
  postgres: string;
  setup: Record<string, unknown>;
  pg: Measured;
  neon: Measured;
  ceiling: Measured;
  ratioNeonToPg: number;
  ratioCeilingToPg: number;
  endpointEfficiency: number;
  goalRatio: number;
  diagnostics: {
    note: string;
    neonWithNodeHttpFetch: Measured;
    ratioNeonWithNodeHttpFetchToPg: number;
    neonWithUndiciRequest: Measured;
    ratioNeonWithUndiciRequestToPg: number;
  };
  elapsedSeconds: number;
}

async function serverVersion(): Promise<string | null> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await c.connect();
    return (await c.query("show server_version")).rows[0].server_version as string;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => {});
  }
}

function markdown(r: Report): string {
  const row = (name: string, m: Measured) =>
    `| ${name} | ${m.requestsPerSec} | ${m.latencyP50Ms} | ${m.latencyP99Ms} | ${m.appCpuMsPerRequest} | ${m.sqlServerCpuMsPerRequest ?? "–"} | ${m.non2xx + m.errors} |`;
  const d = r.diagnostics;
  const cores = (m: Measured) => ((m.requestsPerSec * m.appCpuMsPerRequest) / 1000).toFixed(2);
  return `# Local Neon endpoint vs node-postgres

${r.date} — ${r.machine.nproc} cores (${r.machine.cpu ?? "?"}), Node ${r.machine.node}, PostgreSQL ${r.postgres}.
Load average (1 min) ${r.machine.loadAverageBefore.toFixed(2)} at start${r.machine.loadAverageBefore > 1 ? " (NOT quiet: other work skews these figures)" : " (quiet)"}, at most
${r.machine.loadAverageMaxDuringRun.toFixed(2)} during the run (the bench itself keeps about 2 busy), ${r.machine.loadAverageAfter.toFixed(2)} after; machine CPU
${r.machine.cpuDuringRounds.busyPercent}% busy during the measured rounds, ${r.machine.cpuDuringRounds.stealPercent}% stolen by the hypervisor.
Handler: GET /pacientes/:id (node:http), one indexed lookup in 10 000 rows, random ids, autocannon
50 connections, ${r.setup.durationSeconds} s per handler in ${r.setup.rounds} alternating rounds after a ${r.setup.warmupSeconds} s warm-up
(latencies: median of the rounds). Each server, the endpoint and the ceiling responder in its own process.

| handler | req/s | p50 ms | p99 ms | app CPU ms/req | /sql server CPU ms/req | errors |
|---|---|---|---|---|---|---|
${row("pg Pool → PostgreSQL", r.pg)}
${row("neon() → local endpoint → PostgreSQL", r.neon)}
${row("neon() → ceiling (canned /sql, no Postgres)", r.ceiling)}
${row("(diagnostic) neon() + node:http fetchFunction → endpoint", d.neonWithNodeHttpFetch)}
${row("(diagnostic) neon() + undici request() fetchFunction → endpoint", d.neonWithUndiciRequest)}

## What the numbers say

- **Headline, neon/pg: ${r.ratioNeonToPg}** (goal ≥ ${r.goalRatio}). This is the issue's metric: the same handler on
  \`neon()\` (Node's fetch) through the local endpoint vs on a \`pg\` Pool.
- **Ceiling/pg: ${r.ratioCeilingToPg}.** The ceiling is the same \`neon()\` handler against a /sql responder that costs
  nothing (canned, correctly shaped results; ${r.ceiling.sqlServerCpuMsPerRequest} ms CPU per request): no endpoint, however
  fast, can give this client more than ${r.ceiling.requestsPerSec} req/s on this machine.
- **Endpoint efficiency, neon/ceiling: ${r.endpointEfficiency}.** The endpoint (${r.neon.sqlServerCpuMsPerRequest} ms CPU per request, and
  PostgreSQL behind it) delivers this share of what the client could take.
- **What bounds the ratio is the client, not the endpoint.** Each neon() request costs the app
  ${r.neon.appCpuMsPerRequest} ms CPU (${r.ceiling.appCpuMsPerRequest} ms at the ceiling) against ${r.pg.appCpuMsPerRequest} ms for the whole pg handler; most of it is
  Node's fetch (undici with its WHATWG Request/Response/Headers/streams layers), measured separately
  at about 0.55 ms CPU per request here even against a trivial canned node:http server. At the
  ceiling the app process alone uses ${cores(r.ceiling)} of the ${r.machine.nproc} cores; autocannon and the responder
  share the rest. With fetch swapped for a lighter client (diagnostics, not what apps run) the app
  costs ${d.neonWithNodeHttpFetch.appCpuMsPerRequest} ms (node:http) or ${d.neonWithUndiciRequest.appCpuMsPerRequest} ms (undici request()) per request, and the
  ratio reaches ${d.ratioNeonWithNodeHttpFetchToPg} (node:http) / ${d.ratioNeonWithUndiciRequestToPg} (undici request()) through the same endpoint.
  ${
    r.ratioCeilingToPg < r.goalRatio
      ? `Since ceiling/pg (${r.ratioCeilingToPg}) is below ${r.goalRatio}, the goal cannot be met with the driver's default fetch on
  these ${r.machine.nproc} cores whatever the endpoint does.`
      : `Ceiling/pg (${r.ratioCeilingToPg}) leaves room for the goal: the remaining gap is the endpoint's.`
  } On a real Worker the fetch is workerd's, not undici.

Reproduce: \`npm run bench:neon-endpoint\` (a quiet machine: check \`uptime\` first). The endpoint's own
cost alone: \`tsx bench/neon-endpoint/endpoint-micro.ts\` (PROFILE=1 for a CPU profile).
`;
}

try {
  await main();
} finally {
  for (const c of children) c.kill("SIGTERM");
}
