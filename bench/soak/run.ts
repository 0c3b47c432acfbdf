/**
 * `npm run bench:soak` (`tsx bench/soak/run.ts [--minutes 10] [--rate 50] [--down 5] [--stop-mode immediate|fast]`):
 * the API at a fixed request rate for ten minutes, with PostgreSQL crashed and restarted in the
 * middle. Does the API answer errors only while the database is away, recover quickly once it is
 * back, and keep every write it acknowledged?
 *
 * 1. A private PostgreSQL cluster (dev/cluster.ts: initdb in a temp directory, a free port; the
 *    machine's shared server is never touched), the local Neon endpoint on it (postgres backend,
 *    in this process), migrate, and a small seed (2000 pacientes).
 * 2. The real app under Node (bench/api/server-ours.ts, its own process) with the Upstash Redis
 *    emulator (in-memory store, in this process): JWT, rate limit, cache, RLS, resilience, as in
 *    production.
 * 3. An open-loop load at a fixed rate (requests are sent on schedule whether or not earlier ones
 *    have answered, so a stall shows as latency and errors rather than as fewer requests): 70% GET
 *    a paciente, 10% list a paciente's consultas, 20% POST a consulta in a slot no one else uses,
 *    each POST with an Idempotency-Key.
 * 4. At half time: `pg_ctl stop -m immediate` (a crash: no checkpoint, the WAL replays at the next
 *    start), --down seconds with no database, then start again.
 * 5. Afterwards: every acknowledged booking (201 + id) is looked up in the database; each POST
 *    that failed is sent again with its Idempotency-Key (a client's retry) and every slot must hold
 *    exactly one consulta: nothing lost, nothing doubled.
 * 6. Writes bench/results/soak.json and soak.md (a run shorter than 10 minutes writes them to
 *    $TMPDIR/fisioflow-bench-soak-partial/ instead and says where).
 *
 * Needs the PostgreSQL server binaries (initdb, pg_ctl); without them it says what is missing and
 * exits 2.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import process from "node:process";
import pg from "pg";
import { migrate } from "../../db/migrate";
import { openClient } from "../../db/owner-client";
import { seed } from "../../db/seed";
import { findPgBin, type PrivateCluster, startPrivateCluster } from "../../dev/cluster";
import { LOCAL } from "../../dev/config";
import { startNeonEndpoint } from "../../dev/neon";
import { configureNeonForLocal } from "../../dev/neon/client";
import { startUpstashRedis } from "../../dev/upstash-redis";
import { tokenFor } from "../../test/harness/auth";
import { percentile } from "../api/pgbench";
import { spawnTsx } from "../neon-endpoint/shared";

// ------------------------------------------------------------------------------------ settings

function numberArg(flag: string, fallback: number, min: number, max: number): number {
  const i = process.argv.indexOf(flag);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`${flag} must be a number in ${min}..${max}, not ${process.argv[i + 1] ?? "nothing"}`);
    process.exit(2);
  }
  return n;
}

const MINUTES = numberArg("--minutes", 10, 0.5, 120);
const RATE = numberArg("--rate", 50, 1, 2000);
const DOWN_S = numberArg("--down", 5, 0, 300);
const stopModeArg = process.argv.includes("--stop-mode")
  ? process.argv[process.argv.indexOf("--stop-mode") + 1]
  : "immediate";
if (stopModeArg !== "immediate" && stopModeArg !== "fast") {
  console.error("--stop-mode is immediate (a crash) or fast (a clean shutdown)");
  process.exit(2);
}
const STOP_MODE: "immediate" | "fast" = stopModeArg;
const DURATION_MS = Math.round(MINUTES * 60_000);
const PARTIAL = MINUTES < 10;
const DATABASE = "fisioflow_soak";
const PACIENTES = 2000;
const CONSULTAS_POR_PACIENTE = 4;
/** The client gives up on a request after this long (a mobile app's timeout). */
const REQUEST_TIMEOUT_MS = 15_000;
/** More requests in flight than this and the generator itself is the bottleneck: counted, not sent. */
const MAX_IN_FLIGHT = 2000;
/** Recovery goal: the API answers again within this long after PostgreSQL accepts connections. */
const RECOVERY_GOAL_S = 5;
const JWT_SECRET = `soak-${randomBytes(24).toString("hex")}`;
const SLOT_BASE = Date.UTC(2100, 0, 4, 12);
const DURACAO_MIN = 50;
/** Timeline buckets, for the table and the JSON. */
const BUCKET_MS = 5000;

const log = (line: string) => console.log(`[soak] ${line}`);

// ---------------------------------------------------------------------------------- the records

type Kind = "paciente-get" | "consultas-list" | "consultas-create";

interface Sample {
  /** ms since the load started */
  at: number;
  kind: Kind;
  /** HTTP status; 0 = no answer (network error or client timeout) */
  status: number;
  ms: number;
  /** the error code of an error body, or the client's failure */
  error?: string;
}

interface Booking {
  key: string;
  paciente: string;
  fisio: string;
  slot: string;
  /** the consulta's id when the API acknowledged it (201) */
  id?: string;
  status: number;
}

// ------------------------------------------------------------------------------------- cleanup

let cluster: PrivateCluster | undefined;
let server: ChildProcess | undefined;
const closers: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise<void>((r) => server!.once("exit", () => r()));
      server.kill("SIGTERM");
      const t = setTimeout(() => server?.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
    for (const close of closers.reverse()) await close().catch(() => {});
    if (cluster) await cluster.destroy().catch((e: Error) => log(`cluster: ${e.message}`));
  })();
  return cleaning;
}

for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
const watchdog = setTimeout(
  () => {
    log("watchdog: giving up");
    void cleanup().finally(() => process.exit(1));
  },
  DURATION_MS + 15 * 60_000,
);
watchdog.unref();

// ------------------------------------------------------------------------------------- helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

function rssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function superuser<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

const token = (fisio: string) => tokenFor({ userId: fisio, role: "fisioterapeuta" }, JWT_SECRET, "4h");

// ----------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const bin = findPgBin();
  if (bin.dir === null) {
    console.error(`[soak] cannot run: PostgreSQL server binaries not found (looked in ${bin.looked}).`);
    process.exitCode = 2;
    return;
  }
  const started = Date.now();
  cluster = await startPrivateCluster({ log });
  const dbUrl = (() => {
    const u = new URL(cluster.url);
    u.pathname = `/${DATABASE}`;
    return u.toString();
  })();

  const endpoint = await startNeonEndpoint({
    port: 0,
    hostname: "127.0.0.1",
    postgresUrl: cluster.url,
    database: DATABASE,
    poolSize: 20,
    log: (line) => log(`endpoint: ${line}`),
  });
  closers.push(() => endpoint.close());
  configureNeonForLocal(endpoint);
  const ownerUrl = endpoint.connectionString("fisioflow_owner");
  await migrate(ownerUrl, { neon: true, identityKey: LOCAL.identityKey });
  const { client, close } = await openClient(ownerUrl, true);
  try {
    await seed(client, { pacientes: PACIENTES, consultasPorPaciente: CONSULTAS_POR_PACIENTE });
  } finally {
    await close();
  }
  const pairs = await superuser<{ paciente: string; fisio: string; from: string; to: string }>(
    dbUrl,
    `SELECT DISTINCT ON (p.id) p.id AS paciente, c.fisioterapeuta_id AS fisio,
            to_char(date_trunc('month', c.data_consulta AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"00:00:00"Z"') AS "from",
            to_char(date_trunc('month', c.data_consulta AT TIME ZONE 'UTC') + interval '1 month', 'YYYY-MM-DD"T"00:00:00"Z"') AS "to"
       FROM public.pacientes p JOIN public.consultas c ON c.paciente_id = p.id
      WHERE p.status = 'ativo' ORDER BY p.id, c.data_consulta`,
  );
  const tokens = new Map<string, string>();
  for (const f of new Set(pairs.map((p) => p.fisio))) tokens.set(f, await token(f));
  log(`seeded ${PACIENTES} pacientes; ${pairs.length} callers over ${tokens.size} fisioterapeutas`);

  const redis = await startUpstashRedis({ port: 0, token: LOCAL.redisToken });
  closers.push(() => redis.close());

  const spawned = spawnTsx(
    "bench/api/server-ours.ts",
    {
      APP_DATABASE_URL: endpoint.connectionString("fisioflow_app"),
      APP_NEON_FETCH_ENDPOINT: endpoint.sqlUrl,
      APP_NEON_WS_PROXY: endpoint.wsProxy,
      APP_JWT_SECRET: JWT_SECRET,
      APP_RATE_LIMIT_PER_MINUTE: "100000",
      APP_LOG_LEVEL: "error",
      APP_UPSTASH_REDIS_REST_URL: redis.url,
      APP_UPSTASH_REDIS_REST_TOKEN: LOCAL.redisToken,
    },
    /READY (\d+) \d+/,
  );
  server = spawned.child;
  const base = `http://127.0.0.1:${await spawned.ready}`;
  log(
    `app (Node) on ${base}; ${RATE} req/s for ${MINUTES} min, PostgreSQL ${STOP_MODE}-stopped at half time for ${DOWN_S} s`,
  );

  // ---------------------------------------------------------------------------------- the load
  const samples: Sample[] = [];
  const bookings: Booking[] = [];
  let inFlight = 0;
  let notSent = 0;
  let slot = 0;
  const memory: { at: number; serverRssMb: number | null; loadRssMb: number }[] = [];

  async function send(kind: Kind, at: number, t0: number): Promise<void> {
    const p = pick(pairs);
    const headers: Record<string, string> = { authorization: `Bearer ${tokens.get(p.fisio)}` };
    let path: string;
    let body: string | undefined;
    let booking: Booking | undefined;
    if (kind === "paciente-get") path = `/v1/pacientes/${p.paciente}`;
    else if (kind === "consultas-list")
      path = `/v1/consultas?paciente_id=${p.paciente}&from=${encodeURIComponent(p.from)}&to=${encodeURIComponent(p.to)}`;
    else {
      path = "/v1/consultas";
      booking = {
        key: randomUUID(),
        paciente: p.paciente,
        fisio: p.fisio,
        slot: new Date(SLOT_BASE + slot++ * 3_600_000).toISOString(),
        status: 0,
      };
      bookings.push(booking);
      headers["content-type"] = "application/json";
      headers["idempotency-key"] = booking.key;
      body = JSON.stringify({
        paciente_id: p.paciente,
        data_consulta: booking.slot,
        duracao_min: DURACAO_MIN,
      });
    }
    const sample: Sample = { at, kind, status: 0, ms: 0 };
    try {
      const res = await fetch(base + path, {
        method: body ? "POST" : "GET",
        headers,
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const json = (await res.json().catch(() => null)) as { id?: string; error?: { code?: string } } | null;
      sample.status = res.status;
      if (res.status >= 400) sample.error = json?.error?.code ?? `http_${res.status}`;
      if (booking) {
        booking.status = res.status;
        if (res.status === 201) booking.id = json?.id;
      }
    } catch (err) {
      sample.error = (err as Error).name === "TimeoutError" ? "client_timeout" : "network_error";
    }
    sample.ms = Math.round((performance.now() - t0 - at) * 100) / 100;
    samples.push(sample);
  }

  const t0 = performance.now();
  const wall0 = Date.now();
  let downAt: number | null = null;
  let upAt: number | null = null;
  const outage = (async () => {
    await sleep(DURATION_MS / 2);
    downAt = performance.now() - t0;
    log(`PostgreSQL: pg_ctl stop -m ${STOP_MODE}`);
    await cluster!.stop(STOP_MODE);
    await sleep(DOWN_S * 1000);
    log("PostgreSQL: pg_ctl start");
    await cluster!.start();
    upAt = performance.now() - t0;
    log(`PostgreSQL accepts connections again (${((upAt - downAt) / 1000).toFixed(1)} s after the stop)`);
  })();
  const sampler = setInterval(() => {
    memory.push({
      at: Math.round(performance.now() - t0),
      serverRssMb: rssMb(server?.pid),
      loadRssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    });
  }, 10_000);
  const progress = setInterval(() => {
    const done = samples.length;
    const failed = samples.filter((s) => s.status === 0 || s.status >= 500).length;
    log(
      `${Math.round((performance.now() - t0) / 1000)} s: ${done} answered, ${failed} failed, ${inFlight} in flight`,
    );
  }, 30_000);

  const interval = 1000 / RATE;
  const inflight = new Set<Promise<void>>();
  for (let i = 0; ; i++) {
    const due = i * interval;
    if (due >= DURATION_MS) break;
    const wait = due - (performance.now() - t0);
    if (wait > 1) await sleep(wait);
    if (inFlight >= MAX_IN_FLIGHT) {
      notSent++;
      continue;
    }
    const r = Math.random();
    const kind: Kind = r < 0.7 ? "paciente-get" : r < 0.8 ? "consultas-list" : "consultas-create";
    inFlight++;
    const p = send(kind, due, t0).finally(() => {
      inFlight--;
      inflight.delete(p);
    });
    inflight.add(p);
  }
  await Promise.all(inflight);
  await outage;
  clearInterval(sampler);
  clearInterval(progress);
  memory.push({
    at: Math.round(performance.now() - t0),
    serverRssMb: rssMb(server?.pid),
    loadRssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
  });
  if (downAt === null || upAt === null) throw new Error("the outage did not happen");
  const down: number = downAt;
  const up: number = upAt;
  log(`load done: ${samples.length} requests`);

  // ----------------------------------------------------------------------------- the verdict
  const failed = (s: Sample) => s.status === 0 || s.status >= 500;
  const ends = (s: Sample) => s.at + s.ms;
  // A request that was still running when the database went away may fail: it counts as the outage's.
  const before = samples.filter((s) => failed(s) && ends(s) < down);
  const afterUp = samples.filter((s) => s.at >= up).sort((a, b) => a.at - b.at);
  const lastFailure = afterUp.findLast(failed);
  const firstGood = lastFailure
    ? afterUp.find((s) => s.at > lastFailure.at && !failed(s))
    : afterUp.find((s) => !failed(s));
  const recoveryS = firstGood ? Math.max(0, (ends(firstGood) - up) / 1000) : null;
  const statusCounts: Record<string, number> = {};
  for (const s of samples) {
    const k = s.status ? String(s.status) : (s.error ?? "no answer");
    statusCounts[k] = (statusCounts[k] ?? 0) + 1;
  }
  const errorCodes: Record<string, number> = {};
  for (const s of samples.filter(failed)) errorCodes[s.error ?? "?"] = (errorCodes[s.error ?? "?"] ?? 0) + 1;

  // Every acknowledged booking is in the database.
  const acked = bookings.filter((b) => b.status === 201 && b.id);
  const found = new Set(
    (
      await superuser<{ id: string }>(
        dbUrl,
        "SELECT id::text FROM public.consultas WHERE id = ANY($1::uuid[])",
        [acked.map((b) => b.id)],
      )
    ).map((r) => r.id),
  );
  const lost = acked.filter((b) => !found.has(b.id!));

  // Failed bookings: which landed anyway (unknown outcome), then a client's retry with the same key.
  const unacked = bookings.filter((b) => b.status !== 201);
  const slotsOf = async (bs: Booking[]) =>
    new Map(
      (
        await superuser<{ slot: string; n: number }>(
          dbUrl,
          `SELECT to_char(data_consulta AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS slot, count(*)::int AS n
             FROM public.consultas WHERE data_consulta = ANY($1::timestamptz[]) GROUP BY 1`,
          [bs.map((b) => b.slot)],
        )
      ).map((r) => [r.slot, r.n]),
    );
  const landedAnyway = [...(await slotsOf(unacked)).keys()].length;
  const retries: Record<string, number> = {};
  for (const b of unacked) {
    const res = await fetch(`${base}/v1/consultas`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${tokens.get(b.fisio)}`,
        "content-type": "application/json",
        "idempotency-key": b.key,
      },
      body: JSON.stringify({ paciente_id: b.paciente, data_consulta: b.slot, duracao_min: DURACAO_MIN }),
    });
    await res.arrayBuffer();
    retries[res.status] = (retries[res.status] ?? 0) + 1;
  }
  const perSlot = await slotsOf(bookings);
  const missingSlots = bookings.filter((b) => !perSlot.has(b.slot)).length;
  const doubled = [...perSlot.values()].filter((n) => n > 1).length;

  const lat = (xs: Sample[]) => {
    const sorted = Float64Array.from(xs.filter((s) => !failed(s)).map((s) => s.ms)).sort();
    return sorted.length
      ? { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) }
      : null;
  };
  const steady = samples.filter((s) => ends(s) < down || s.at > up + (recoveryS ?? 0) * 1000);
  const timeline: { fromS: number; sent: number; ok: number; failed: number; p95: number | null }[] = [];
  for (let b = 0; b * BUCKET_MS < DURATION_MS; b++) {
    const xs = samples.filter((s) => s.at >= b * BUCKET_MS && s.at < (b + 1) * BUCKET_MS);
    timeline.push({
      fromS: (b * BUCKET_MS) / 1000,
      sent: xs.length,
      ok: xs.filter((s) => !failed(s)).length,
      failed: xs.filter(failed).length,
      p95: lat(xs)?.p95 ?? null,
    });
  }
  const rss = memory.map((m) => m.serverRssMb).filter((x): x is number => x !== null);
  const report = {
    date: new Date(wall0).toISOString(),
    machine: {
      cores: os.availableParallelism(),
      cpu: os.cpus()[0]?.model,
      node: process.version,
      loadAverageAfter: Math.round(os.loadavg()[0]! * 100) / 100,
    },
    setup: {
      minutes: MINUTES,
      ratePerSecond: RATE,
      mix: "70% GET /v1/pacientes/:id, 10% GET /v1/consultas (a month), 20% POST /v1/consultas (Idempotency-Key)",
      postgres: `private cluster (initdb, ${bin.dir}); stopped with pg_ctl -m ${STOP_MODE} at half time, started again after ${DOWN_S} s`,
      app: "the real app under Node (bench/api/server-ours.ts), Upstash Redis emulator (in-memory store), local Neon endpoint (postgres backend, 20 connections per role)",
      seeded: `${PACIENTES} pacientes × ${CONSULTAS_POR_PACIENTE} consultas`,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    },
    outage: {
      stoppedAtS: Math.round(down / 100) / 10,
      backAtS: Math.round(up / 100) / 10,
      databaseAwayS: Math.round((up - down) / 100) / 10,
    },
    requests: {
      sent: samples.length,
      notSentGeneratorSaturated: notSent,
      statusCounts,
      failed: samples.filter(failed).length,
      failedByCode: errorCodes,
      failedBeforeOutage: before.length,
      http500: samples.filter((s) => s.status === 500).length,
    },
    recovery: {
      seconds: recoveryS === null ? null : Math.round(recoveryS * 100) / 100,
      goalSeconds: RECOVERY_GOAL_S,
      met: recoveryS !== null && recoveryS <= RECOVERY_GOAL_S,
    },
    writes: {
      attempted: bookings.length,
      acknowledged: acked.length,
      acknowledgedLost: lost.length,
      failedButCommitted: landedAnyway,
      failed: unacked.length,
      retriedWithSameKey: retries,
      slotsWithoutConsulta: missingSlots,
      slotsWithMoreThanOne: doubled,
    },
    latencyMs: { steady: lat(steady), all: lat(samples) },
    serverRssMb: rss.length ? { first: rss[0], last: rss.at(-1), max: Math.max(...rss) } : null,
    memory,
    timeline,
    verdict: {
      noAcknowledgedWriteLost: lost.length === 0,
      errorsOnlyDuringOutage: before.length === 0,
      recoveryWithinGoal: recoveryS !== null && recoveryS <= RECOVERY_GOAL_S,
      no500: samples.every((s) => s.status !== 500),
      nothingDoubled: doubled === 0 && missingSlots === 0,
    },
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  };
  const dir = PARTIAL ? join(os.tmpdir(), "fisioflow-bench-soak-partial") : "bench/results";
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "soak.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, "soak.md"), markdown(report));
  log(`verdict: ${JSON.stringify(report.verdict)}`);
  log(`wrote ${dir}/soak.json and ${dir}/soak.md (${report.elapsedSeconds} s)`);
  if (Object.values(report.verdict).includes(false)) process.exitCode = 1;
}

type Report = {
  date: string;
  machine: { cores: number; cpu?: string; node: string; loadAverageAfter: number };
  setup: Record<string, string | number>;
  outage: { stoppedAtS: number; backAtS: number; databaseAwayS: number };
  requests: {
    sent: number;
    notSentGeneratorSaturated: number;
    statusCounts: Record<string, number>;
    failed: number;
    failedByCode: Record<string, number>;
    failedBeforeOutage: number;
    http500: number;
  };
  recovery: { seconds: number | null; goalSeconds: number; met: boolean };
  writes: {
    attempted: number;
    acknowledged: number;
    acknowledgedLost: number;
    failedButCommitted: number;
    failed: number;
    retriedWithSameKey: Record<string, number>;
    slotsWithoutConsulta: number;
    slotsWithMoreThanOne: number;
  };
  latencyMs: Record<string, { p50: number; p95: number; p99: number } | null>;
  serverRssMb: { first?: number; last?: number; max: number } | null;
  timeline: { fromS: number; sent: number; ok: number; failed: number; p95: number | null }[];
  verdict: Record<string, boolean>;
};

export function markdown(r: Report): string {
  const yes = (b: boolean) => (b ? "yes" : "**NO**");
  const kv = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ") || "none";
  const near = r.timeline.filter(
    (b) =>
      b.fromS >= r.outage.stoppedAtS - 15 && b.fromS <= r.outage.backAtS + (r.recovery.seconds ?? 0) + 15,
  );
  const l = r.latencyMs.steady;
  return `# Soak: a fixed rate for ${r.setup.minutes} min, PostgreSQL crashed and restarted in the middle

${r.date} — ${r.machine.cores} cores (${r.machine.cpu}), Node ${r.machine.node}. \`npm run bench:soak\` (bench/soak/run.ts).

- Load: ${r.setup.ratePerSecond} req/s, open loop (sent on schedule whatever the answers), ${r.setup.mix}; client timeout ${r.setup.requestTimeoutMs} ms.
- ${r.setup.app}; seeded ${r.setup.seeded}.
- PostgreSQL: ${r.setup.postgres}. Stopped at ${r.outage.stoppedAtS} s, accepting connections again at ${r.outage.backAtS} s (away ${r.outage.databaseAwayS} s).

| check | result |
|---|---|
| acknowledged writes lost | ${r.writes.acknowledgedLost} of ${r.writes.acknowledged} — ${yes(r.writes.acknowledgedLost === 0)} |
| errors outside the outage | ${r.requests.failedBeforeOutage} — ${yes(r.requests.failedBeforeOutage === 0)} |
| recovery after PostgreSQL is back | ${r.recovery.seconds ?? "never"} s (goal ≤ ${r.recovery.goalSeconds} s) — ${yes(r.recovery.met)} |
| HTTP 500 | ${r.requests.http500} — ${yes(r.requests.http500 === 0)} |
| every slot booked exactly once after retries | ${r.writes.slotsWithoutConsulta} missing, ${r.writes.slotsWithMoreThanOne} doubled — ${yes(r.verdict.nothingDoubled ?? false)} |

- Requests: ${r.requests.sent} sent (${r.requests.notSentGeneratorSaturated} not sent: generator saturated); answers ${kv(r.requests.statusCounts)}.
- Failed (5xx or no answer): ${r.requests.failed}, by code ${kv(r.requests.failedByCode)}.
- Writes: ${r.writes.attempted} bookings, ${r.writes.acknowledged} acknowledged; ${r.writes.failed} failed, of which ${r.writes.failedButCommitted} had committed anyway (outcome unknown to the client); their retries with the same Idempotency-Key answered ${kv(r.writes.retriedWithSameKey)}.
- Latency outside the outage (answered requests): ${l ? `p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms` : "n/a"}.
- Server memory (RSS): ${r.serverRssMb ? `${r.serverRssMb.first} MB at the start, ${r.serverRssMb.last} MB at the end, at most ${r.serverRssMb.max} MB` : "n/a"}.

Around the outage (${BUCKET_MS / 1000} s buckets by send time; the whole timeline is in soak.json):

| from s | sent | ok | failed | p95 ms (ok) |
|---|---|---|---|---|
${near.map((b) => `| ${b.fromS} | ${b.sent} | ${b.ok} | ${b.failed} | ${b.p95 ?? "–"} |`).join("\n")}
`;
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
  clearTimeout(watchdog);
  process.exit(process.exitCode ?? 0);
}
