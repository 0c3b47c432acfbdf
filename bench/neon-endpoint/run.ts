/**
 * `npm run bench:neon-endpoint`: how much the local Neon endpoint costs an app handler.
 *
 * Against the machine's PostgreSQL (LOCAL_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/postgres)
 * it seeds `pacientes` (10 000 rows) in database neon_bench, then drives two servers of the same
 * handler (bench/neon-endpoint/server.ts), each in its own process, with autocannon
 * (50 connections, warm-up then 10 s in alternating rounds, random ids):
 *   pg   — node-postgres Pool (max 20) straight to PostgreSQL;
 *   neon — neon() over HTTP through the local endpoint (own process, postgres backend).
 * Writes bench/results/neon-endpoint.json and .md.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import autocannon from "autocannon";
import pg from "pg";
import { LOCAL } from "../../dev/config";

const ADMIN_URL = process.env.LOCAL_POSTGRES_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
const DATABASE = "neon_bench";
const ROWS = 10_000;
const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP_S = 3;
const ROUNDS = 5;
const APP_ROLE = "fisioflow_app";

const children: ChildProcess[] = [];
const pids: Record<string, number> = {};

/** CPU seconds (user + system) a process has used so far; Linux /proc only, else 0. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

function dbUrl(user: string): string {
  const url = new URL(ADMIN_URL);
  url.username = user;
  url.password = "";
  url.pathname = `/${DATABASE}`;
  return url.toString();
}

/** Spawns `tsx <script>` and resolves with the first stdout line matching `ready`. */
function spawnChild(
  name: string,
  script: string,
  env: Record<string, string>,
  ready: RegExp,
): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  pids[name] = child.pid!;
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
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
  /** CPU milliseconds per request of the app server and (neon only) of the endpoint process. */
  appCpuMsPerRequest: number;
  endpointCpuMsPerRequest?: number;
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

const appOf = { pg: "pgApp", neon: "neonApp", "neon-agent": "neonAgentApp" } as const;

type Target = keyof typeof appOf;

/**
 * Measures every target in alternating rounds (pg, neon, neon-agent, pg, ...) so that load from
 * other work on the machine, which comes and goes, falls on all of them alike.
 */
async function measureAll(ports: Record<Target, string>, ids: string[]): Promise<Record<Target, Measured>> {
  const targets = Object.keys(ports) as Target[];
  for (const t of targets) await drive(ports[t], ids, WARMUP_S);
  const acc = Object.fromEntries(
    targets.map((t) => [
      t,
      { total: 0, seconds: 0, p50: [] as number[], p99: [] as number[], non2xx: 0, errors: 0, app: 0, ep: 0 },
    ]),
  ) as Record<
    Target,
    {
      total: number;
      seconds: number;
      p50: number[];
      p99: number[];
      non2xx: number;
      errors: number;
      app: number;
      ep: number;
    }
  >;
  const roundSeconds = DURATION_S / ROUNDS;
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) {
      const app = pids[appOf[t]];
      const app0 = cpuSeconds(app);
      const ep0 = cpuSeconds(pids.endpoint);
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
      a.ep += cpuSeconds(pids.endpoint) - ep0;
    }
  }
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
      ...(t !== "pg" ? { endpointCpuMsPerRequest: perRequest(a.ep) } : {}),
    };
    console.log(
      `${t}: ${out[t].requestsPerSec} req/s, p50 ${out[t].latencyP50Ms} ms, p99 ${out[t].latencyP99Ms} ms`,
    );
  }
  return out;
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = os.loadavg()[0];
  await ensureDatabase();
  const endpointJson = await spawnChild(
    "endpoint",
    "dev/neon/main.ts",
    { PORT: "0", LOCAL_POSTGRES_URL: ADMIN_URL, NEON_DATABASE: DATABASE },
    /^(\{.*\})$/m,
  );
  const endpoint = JSON.parse(endpointJson) as { sqlUrl: string; url: string };
  const ids = await seed();
  const pgPort = await spawnChild(
    "pgApp",
    "bench/neon-endpoint/server.ts",
    { MODE: "pg", DATABASE_URL: dbUrl(APP_ROLE) },
    /READY (\d+)/,
  );
  const neonUrl = `postgresql://${APP_ROLE}:${encodeURIComponent(LOCAL.roles[APP_ROLE]!)}@localhost/${DATABASE}`;
  const neonPort = await spawnChild(
    "neonApp",
    "bench/neon-endpoint/server.ts",
    { MODE: "neon", DATABASE_URL: neonUrl, SQL_URL: endpoint.sqlUrl },
    /READY (\d+)/,
  );
  const agentPort = await spawnChild(
    "neonAgentApp",
    "bench/neon-endpoint/server.ts",
    { MODE: "neon-agent", DATABASE_URL: neonUrl, SQL_URL: endpoint.sqlUrl },
    /READY (\d+)/,
  );
  const measured = await measureAll({ pg: pgPort, neon: neonPort, "neon-agent": agentPort }, ids);
  const pgResult = measured.pg;
  const neonResult = measured.neon;
  const agentResult = measured["neon-agent"];
  const ratio = Math.round((neonResult.requestsPerSec / pgResult.requestsPerSec) * 100) / 100;
  const report = {
    date: new Date().toISOString(),
    machine: {
      nproc: os.availableParallelism(),
      cpu: os.cpus()[0]?.model,
      node: process.version,
      // Other work on the machine skews every figure here; the 1-minute load average says how much.
      loadAverageBefore: loadBefore,
      loadAverageAfter: os.loadavg()[0],
    },
    postgres: (await serverVersion()) ?? "unknown",
    setup: {
      rows: ROWS,
      connections: CONNECTIONS,
      durationSeconds: DURATION_S,
      warmupSeconds: WARMUP_S,
      query: "select id, nome, email, telefone, data_nascimento, criado_em from pacientes where id = $1",
      pgPoolMax: 20,
      endpointPoolSize: 20,
    },
    pg: pgResult,
    neon: neonResult,
    ratioNeonToPg: ratio,
    /** Not the goal metric: neon() with a node:http fetchFunction, to isolate the cost of fetch(). */
    neonWithNodeHttpFetch: agentResult,
    ratioNeonWithNodeHttpFetchToPg:
      Math.round((agentResult.requestsPerSec / pgResult.requestsPerSec) * 100) / 100,
    goalRatio: 0.6,
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync("bench/results/neon-endpoint.json", `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync("bench/results/neon-endpoint.md", markdown(report));
  console.log(`ratio neon/pg = ${ratio}`);
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

function markdown(r: {
  date: string;
  machine: { nproc: number; cpu?: string; node: string; loadAverageBefore?: number };
  postgres: string;
  pg: Measured;
  neon: Measured;
  ratioNeonToPg: number;
  neonWithNodeHttpFetch: Measured;
  ratioNeonWithNodeHttpFetchToPg: number;
}): string {
  const row = (name: string, m: Measured) =>
    `| ${name} | ${m.requestsPerSec} | ${m.latencyP50Ms} | ${m.latencyP99Ms} | ${m.non2xx + m.errors} |`;
  return `# Local Neon endpoint vs node-postgres

${r.date} — ${r.machine.nproc} cores (${r.machine.cpu ?? "?"}), Node ${r.machine.node}, PostgreSQL ${r.postgres},
load average ${r.machine.loadAverageBefore?.toFixed(2)} at start (other work on the box skews the figures).
Handler: GET /pacientes/:id (node:http), one indexed lookup in 10 000 rows, random ids,
autocannon 50 connections, 10 s per handler in 5 alternating rounds after a 3 s warm-up (latencies:
median of the rounds). Each server, and the endpoint, in its own process.

| handler | req/s | p50 ms | p99 ms | errors |
|---|---|---|---|---|
${row("pg Pool → PostgreSQL", r.pg)}
${row("neon() → local endpoint → PostgreSQL", r.neon)}
${row("(diagnostic) neon() with a node:http fetchFunction", r.neonWithNodeHttpFetch)}

CPU per request: pg app ${r.pg.appCpuMsPerRequest} ms; neon app ${r.neon.appCpuMsPerRequest} ms (the driver's
fetch() and parsing) + endpoint ${r.neon.endpointCpuMsPerRequest} ms.

Ratio neon/pg: **${r.ratioNeonToPg}** (goal ≥ 0.6). With the driver's fetch() swapped for node:http
(diagnostic only; apps keep fetch): ${r.ratioNeonWithNodeHttpFetchToPg}, app ${r.neonWithNodeHttpFetch.appCpuMsPerRequest} ms +
endpoint ${r.neonWithNodeHttpFetch.endpointCpuMsPerRequest} ms CPU per request. Reproduce: \`npm run bench:neon-endpoint\`.
`;
}

try {
  await main();
} finally {
  for (const c of children) c.kill("SIGTERM");
}
