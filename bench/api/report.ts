/** The API benchmark's results: their shape (bench/results/api.json) and the markdown (api.md). */
import type { EndpointKey } from "./common";
import type { MachineCpu } from "./cpu";

/** ours-node without Upstash (no rate limit, no cache): our layers minus Redis. */
export const NO_REDIS = "ours-node-no-redis";
export const VARIANTS = [
  "ours-node",
  NO_REDIS,
  "ours-workerd",
  "prisma",
  "neon-bare",
  "pg-pool",
  "pgbench",
] as const;
export type Variant = (typeof VARIANTS)[number];
/** Not an endpoint's variant: a worker answering 200 "ok", measured once per run (GET /). */
export const CEILING = "workerd-ceiling";
/** Everything `--only` accepts. */
export const ALL_VARIANTS = [...VARIANTS, CEILING] as const;
export type AnyVariant = (typeof ALL_VARIANTS)[number];

export interface Measured {
  status: "measured";
  requestsPerSec: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** Requests answered in the measured window (warm-up excluded). */
  total: number;
  seconds: number;
  non2xx: number;
  /** HTTP status → count (pgbench: none). */
  statusCodes: Record<string, number>;
  /** Socket errors and timeouts (pgbench: failed transactions and aborted clients). */
  errors: number;
  /** Neon HTTP requests (/sql at the local endpoint) per answered request; "n/a" off the endpoint. */
  neonRoundTripsPerRequest: number | "n/a";
  /** ours-node and ours-workerd only: the app's calls to Redis (Upstash REST, over fetch) per request. */
  redisCallsPerRequest: number | "n/a";
  /** CPU seconds per process (group) over the measured window. */
  cpuSeconds: Record<string, number>;
  cpuMsPerRequest: Record<string, number>;
  machine: MachineCpu;
  /** 1-minute load average at the end of the window. */
  loadAverage: number;
  note?: string;
}

export interface Skipped {
  status: "skipped";
  reason: string;
}

export type Outcome = Measured | Skipped;

export interface EndpointResult {
  key: EndpointKey;
  title: string;
  read: boolean;
  variants: Record<Variant, Outcome>;
  /** Throughput (req/s) of ours-node / ours-workerd over each baseline; null where a side was not measured. */
  ratios: {
    /** The goal: at least 1.5 (the plan's own stack, Prisma 7 + @prisma/adapter-neon, same runtime). */
    oursToPrisma: number | null;
    oursToNeonBare: number | null;
    oursToPgPool: number | null;
    oursToPgbench: number | null;
    /** ours-node-no-redis over neon-bare and prisma: our layers without the Redis round trips. */
    noRedisToNeonBare?: number | null;
    noRedisToPrisma?: number | null;
    workerdToNode: number | null;
    workerdToNeonBare: number | null;
    workerdToCeiling: number | null;
  };
  /** The plan's bar for the Node runtime, on read endpoints: > 1000 req/s at p95 < 100 ms. */
  bar: { met: boolean; detail: string } | null;
}

export interface Report {
  date: string;
  machine: {
    cores: number;
    cpu?: string;
    node: string;
    postgres: string;
    pgbench: string | null;
    loadAverageBefore: number;
    loadAverageMaxDuringRun: number;
    loadAverageAfter: number;
  };
  setup: {
    database: string;
    seeded: Record<string, number>;
    migrateSeconds: number;
    seedSeconds: number;
    fisioterapeutas: number;
    pairs: number;
    surnames: string[];
    connections: number;
    durationSeconds: number;
    warmupSeconds: number;
    pgbench: string;
    redis: string;
    pools: string;
    workerd: string;
  };
  /** wrangler's local runtime serving a worker that answers 200 "ok" (GET /): its ceiling here. */
  workerdCeiling: Outcome;
  /** Set when --only / --endpoints left part of the bench out. */
  partial?: { variants: string[]; endpoints: string[] };
  endpoints: EndpointResult[];
  notMeasured: string[];
  elapsedSeconds: number;
}

export const BAR = { requestsPerSec: 1000, p95Ms: 100 };

export function ratio(a: Outcome, b: Outcome): number | null {
  if (a.status !== "measured" || b.status !== "measured" || b.requestsPerSec === 0) return null;
  return Math.round((a.requestsPerSec / b.requestsPerSec) * 100) / 100;
}

const meets = (m: Measured) =>
  m.requestsPerSec > BAR.requestsPerSec && m.latencyMs.p95 < BAR.p95Ms && m.non2xx + m.errors === 0;

/** Whether ours-node meets the bar, and for context whether the database alone (pgbench) does. */
export function barOf(read: boolean, ours: Outcome, ceiling: Outcome): EndpointResult["bar"] {
  if (!read) return null;
  if (ours.status !== "measured") return { met: false, detail: "ours-node not measured" };
  const failures = ours.non2xx + ours.errors;
  const db =
    ceiling.status === "measured"
      ? `; the database alone (pgbench): ${ceiling.requestsPerSec} req/s at p95 ${ceiling.latencyMs.p95} ms, ` +
        `${meets(ceiling) ? "within" : "itself outside"} the bar on this machine`
      : "";
  return {
    met: meets(ours),
    detail: `ours-node ${ours.requestsPerSec} req/s at p95 ${ours.latencyMs.p95} ms${failures ? `, ${failures} failed` : ""}${db}`,
  };
}

const LABEL: Record<string, string> = {
  server: "server",
  "neon endpoint": "endpoint",
  "upstash emulator": "emulator",
  workerd: "workerd",
  "redis-server": "redis",
  postgres: "postgres",
  pgbench: "pgbench",
  "bench driver (autocannon)": "autocannon",
};

function cpuCell(m: Measured): string {
  return Object.entries(m.cpuMsPerRequest)
    .filter(([, v]) => v >= 0.005)
    .map(([k, v]) => `${LABEL[k] ?? k} ${v.toFixed(2)}`)
    .join(" · ");
}

function row(v: string, o: Outcome): string {
  if (o.status === "skipped") return `| ${v} | – | – | – | – | – | – | – | – | skipped: ${o.reason} |`;
  const n = (x: number | "n/a") => (typeof x === "number" ? x.toFixed(2) : x);
  const non2xx = o.non2xx
    ? `${o.non2xx} (${Object.entries(o.statusCodes)
        .filter(([c]) => !c.startsWith("2"))
        .map(([c, n]) => `${c}×${n}`)
        .join(", ")})`
    : "0";
  return `| ${v} | ${o.requestsPerSec} | ${o.latencyMs.p50} | ${o.latencyMs.p95} | ${o.latencyMs.p99} | ${non2xx} | ${o.errors} | ${n(o.neonRoundTripsPerRequest)} | ${n(o.redisCallsPerRequest)} | ${cpuCell(o)} |`;
}

const fmt = (x: number | null) => (x === null ? "–" : String(x));

export function markdown(r: Report): string {
  const m = r.machine;
  const reads = r.endpoints.filter((e) => e.bar);
  const barLines = reads
    .map((e) => `- ${e.title}: **${e.bar!.met ? "met" : "not met"}** (${e.bar!.detail})`)
    .join("\n");
  const tables = r.endpoints
    .map((e) => {
      const lines = [
        `## ${e.title}`,
        "",
        "| variant | req/s | p50 ms | p95 ms | p99 ms | non-2xx | errors | Neon round trips/req | Redis calls/req | CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|",
        ...VARIANTS.map((v) => row(v, e.variants[v])),
        "",
        `Ratios (req/s): ours-node/prisma **${fmt(e.ratios.oursToPrisma)}** · ours-node/neon-bare **${fmt(e.ratios.oursToNeonBare)}** · ours-node/pg-pool **${fmt(e.ratios.oursToPgPool)}** · ours-node/pgbench **${fmt(e.ratios.oursToPgbench)}**.`,
        `Without Redis (ours-node-no-redis): /neon-bare **${fmt(e.ratios.noRedisToNeonBare ?? null)}** · /prisma **${fmt(e.ratios.noRedisToPrisma ?? null)}**.`,
        `ours-workerd: /ours-node **${fmt(e.ratios.workerdToNode)}** · /neon-bare **${fmt(e.ratios.workerdToNeonBare)}** · /workerd-ceiling **${fmt(e.ratios.workerdToCeiling)}**.`,
      ];
      if (e.bar)
        lines.push(
          `Bar (Node runtime, > ${BAR.requestsPerSec} req/s at p95 < ${BAR.p95Ms} ms): **${e.bar.met ? "met" : "not met"}** (${e.bar.detail}).`,
        );
      const notes = VARIANTS.map((v) => e.variants[v])
        .filter((o): o is Measured => o.status === "measured" && Boolean(o.note))
        .map((o) => `- ${o.note}`);
      if (notes.length) lines.push("", ...notes);
      return lines.join("\n");
    })
    .join("\n\n");
  const c = r.workerdCeiling;
  const ceiling = [
    '## The workerd ceiling (a worker that answers 200 "ok", GET /)',
    "",
    "| variant | req/s | p50 ms | p95 ms | p99 ms | non-2xx | errors | Neon round trips/req | Redis calls/req | CPU ms/req |",
    "|---|---|---|---|---|---|---|---|---|---|",
    row(CEILING, c),
    "",
    c.status === "measured"
      ? `What wrangler's local runtime serves on this machine when the worker does nothing, measured once in this run ` +
        `(${c.seconds} s, same load): every endpoint's ours-workerd is also given as a share of it (/workerd-ceiling).`
      : "Not measured in this run: no /workerd-ceiling ratios.",
  ].join("\n");
  const partial = r.partial
    ? `\n**Partial run** (--only ${r.partial.variants.join(",")} --endpoints ${r.partial.endpoints.join(",")}): the rest was not run.\n`
    : "";
  return `# API benchmark: our app (Node and workerd) vs the driver, a pg Pool and pgbench
${partial}
${r.date} — ${m.cores} cores (${m.cpu ?? "?"}), Node ${m.node}, PostgreSQL ${m.postgres}${m.pgbench ? `, ${m.pgbench}` : ""}.
Load average (1 min) ${m.loadAverageBefore.toFixed(2)} at start${m.loadAverageBefore > 1 ? " (NOT quiet: other work on the machine skews these figures)" : " (quiet)"}, at most ${m.loadAverageMaxDuringRun.toFixed(2)} during the run, ${m.loadAverageAfter.toFixed(2)} after.
Everything runs on this one machine and shares its cores: the servers, the local Neon endpoint, PostgreSQL,
Redis and the load generator. Absolute figures are this machine's; the ratios are what carries over.

Database \`${r.setup.database}\` (fresh, dropped afterwards): ${Object.entries(r.setup.seeded)
    .map(([k, v]) => `${v} ${k}`)
    .join(", ")} (db/seed.ts; migrate ${r.setup.migrateSeconds} s, seed ${r.setup.seedSeconds} s).
Every request is an authenticated fisioterapeuta under RLS, spread at random over ${r.setup.fisioterapeutas} fisioterapeutas and
${r.setup.pairs} of their active pacientes; search terms: ${r.setup.surnames.join(", ")}. autocannon ${r.setup.connections} connections,
${r.setup.warmupSeconds} s warm-up then ${r.setup.durationSeconds} s per endpoint × variant; latencies over every answered request of the window.

- **ours-node**: the real app (\`createApp()\`, functions/app.ts) under @hono/node-server: JWT (HS256), rate limit and
  (on GET /v1/pacientes/:id) the read-through cache in Redis (${r.setup.redis}), zod validation, the caller-scoped
  \`db.batch\` (identity statement + the query in one Neon HTTP transaction) with timeout/retry/breaker.
- **ours-node-no-redis**: the same app under Node without Upstash Redis (no rate limit, no cache: Redis is optional
  by design), so next to neon-bare it shows what JWT, zod, the identity, resilience and logging cost, and next to
  ours-node what the Upstash REST calls cost.
- **ours-workerd**: the same app with the same bindings, run by wrangler's local runtime (workerd): ${r.setup.workerd}
- **workerd-ceiling**: a worker answering 200 "ok" (bench/api/worker-ok.ts), run exactly as ours-workerd: wrangler dev's
  own ceiling here, so ours-workerd / workerd-ceiling is the share of it our app reaches.
- **prisma**: the plan's own stack: node:http + Prisma 7 (\`@prisma/adapter-neon\`, its WebSocket Pool of 20 through
  the local endpoint; its HTTP adapter has no transactions, and RLS needs the identity and the query in one), each
  request a batch \`$transaction([identity, query])\` with Prisma's query API (search: raw SQL, which Prisma has no API
  for); the caller from a header, like neon-bare. Installed on demand into bench/prisma (bench/api/prisma-backend.ts).
- **neon-bare**: node:http + \`neon()\`, the same SQL (db/queries) after the identity statement in one \`sql.transaction([...])\`,
  same RLS; the caller from a header, no JWT, no validation, no Redis: what our layers add on top of the driver.
- **pg-pool**: node:http + a \`pg\` Pool straight to PostgreSQL, \`BEGIN; set_config(...); <query>; COMMIT\` on one client.
- **pgbench**: ${r.setup.pgbench}
- Pools: ${r.setup.pools}.
- Neon round trips/req: POSTs to the endpoint's /sql per request the server ran (requests left in flight at the
  end of a window are waited for and counted). Redis calls/req: the app's fetch() calls to the Upstash REST
  API per request (ours-node, ours-workerd: rate limit; on GET /v1/pacientes/:id the cache read, and its write on a miss).
- CPU ms/req: CPU time per answered request of each process over the window (server = the variant's own server
  process; for ours-workerd and workerd-ceiling, server = wrangler's Node process (and its esbuild) and workerd =
  the workerd processes it runs (its proxy and the worker), found by walking the process tree; endpoint = the
  local Neon endpoint; postgres = the backends of the bench database; autocannon = the load generator).

## The plan's bar (Node runtime: > ${BAR.requestsPerSec} req/s at p95 < ${BAR.p95Ms} ms on every read endpoint)

${barLines}

${ceiling}

${tables}

## Not measured yet

${r.notMeasured.map((n) => `- ${n}`).join("\n")}

Reproduce: \`npm run bench\` (or \`npx tsx bench/api/run.ts [--duration N] [--only <variant,...>] [--endpoints <key,...>]\`; a partial run writes to $TMPDIR/fisioflow-bench-api-partial/); check \`uptime\` first. Took ${r.elapsedSeconds} s.
`;
}
