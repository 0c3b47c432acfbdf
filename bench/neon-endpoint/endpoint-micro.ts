/**
 * `tsx bench/neon-endpoint/endpoint-micro.ts`: the local endpoint's own CPU per /sql request, with
 * no neon() client in the way. Starts dev/neon/main.ts (postgres backend, database neon_bench,
 * seeded by `npm run bench:neon-endpoint`), then drives POST /sql with autocannon (50 connections,
 * the bench's query with random ids, the driver's headers) and prints req/s and endpoint CPU ms per
 * request. PROFILE=1 runs the endpoint under `node --cpu-prof` (profile in .data/cpu-prof/).
 * Env: BENCH_DURATION (s, default 8), ROUNDS (default 3), ENDPOINT_SCRIPT (default dev/neon/main.ts:
 * point it at a copy of an older dev/ to compare before/after).
 */
import autocannon from "autocannon";
import pg from "pg";
import { ADMIN_URL, cpuSeconds, DATABASE, neonConnectionString, QUERY, spawnTsx, sqlHeaders } from "./shared";

const DURATION_S = Number(process.env.BENCH_DURATION ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

const { child, ready } = spawnTsx(
  process.env.ENDPOINT_SCRIPT ?? "dev/neon/main.ts",
  { PORT: "0", LOCAL_POSTGRES_URL: ADMIN_URL, NEON_DATABASE: DATABASE },
  /^(\{.*\})$/m,
  process.env.PROFILE ? ["--cpu-prof", "--cpu-prof-dir=.data/cpu-prof"] : [],
);
try {
  const { sqlUrl } = JSON.parse(await ready) as { sqlUrl: string };
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  const ids = (await db.query<{ id: string }>("select id from pacientes")).rows.map((r) => r.id);
  await db.end();
  if (!ids.length) throw new Error("neon_bench.pacientes is empty: run npm run bench:neon-endpoint once");
  const headers = sqlHeaders(neonConnectionString("?application_name=micro"));
  const run = (seconds: number) =>
    autocannon({
      url: sqlUrl,
      connections: 50,
      duration: seconds,
      requests: [
        {
          method: "POST",
          headers,
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({ query: QUERY, params: [ids[Math.floor(Math.random() * ids.length)]] }),
          }),
        },
      ],
    });
  await run(2);
  for (let i = 0; i < ROUNDS; i++) {
    const c0 = cpuSeconds(child.pid!);
    const r = await run(DURATION_S);
    const cpu = cpuSeconds(child.pid!) - c0;
    console.log(
      `round ${i + 1}: ${Math.round(r.requests.average)} req/s, endpoint ${((cpu * 1000) / r.requests.total).toFixed(3)} ms CPU/request, non2xx ${r.non2xx}, errors ${r.errors}`,
    );
  }
} finally {
  child.kill("SIGTERM");
}
