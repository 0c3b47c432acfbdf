/**
 * `npm run bench:identity`: what verifying the signed identity (migration 0012) costs PostgreSQL.
 *
 * On the machine's PostgreSQL (LOCAL_POSTGRES_URL; a throw-away database fisioflow_identity_bench,
 * migrated and seeded with 2000 pacientes, dropped afterwards), as the app role:
 *   1. one verification: `app.identidade()` evaluated 20 000 times in one statement → µs per call;
 *   2. the API bench's read statements (GET a paciente, a paciente's consultas in a month, a
 *      search): EXPLAIN (ANALYZE) of each, 300 runs, with the time spent in the InitPlans that
 *      hold the identity calls set against the statement's execution time, and how many such
 *      InitPlans each has (the verifications per statement; none is per row).
 * Writes bench/results/identity.{json,md}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import pg from "pg";
import { migrate } from "../../db/migrate";
import { seed } from "../../db/seed";
import { AUTH_SQL, SYSTEM_SQL } from "../../db/session";
import { LOCAL } from "../../dev/config";
import { BENCH_SIGNER, consultasOfPaciente, pacienteById, searchPacientes } from "../api/common";
import { admin, databaseUrl } from "../neon-endpoint/shared";

const DATABASE = "fisioflow_identity_bench";
const RUNS = 300;
const CALLS = 20_000;
const log = (line: string) => console.log(`[identity] ${line}`);

interface PlanNode {
  "Node Type": string;
  "Parent Relationship"?: string;
  "Actual Total Time"?: number;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
  [k: string]: unknown;
}

/** Time (ms) in the InitPlans that call app.identidade(), and how many there are. */
function identityInitPlans(node: PlanNode): { ms: number; count: number } {
  let ms = 0;
  let count = 0;
  for (const child of node.Plans ?? []) {
    if (child["Parent Relationship"] === "InitPlan" && JSON.stringify(child).includes("identidade")) {
      ms += (child["Actual Total Time"] ?? 0) * (child["Actual Loops"] ?? 1);
      count++;
    } else {
      const r = identityInitPlans(child);
      ms += r.ms;
      count += r.count;
    }
  }
  return { ms, count };
}

async function main() {
  await admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${DATABASE}`);
  try {
    // Roles exist on this server already (the local endpoint creates them); make sure they do.
    for (const [role, pw] of Object.entries(LOCAL.roles))
      await admin(
        `DO $$ BEGIN CREATE ROLE ${role} LOGIN PASSWORD '${pw}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
      );
    await admin(`ALTER DATABASE ${DATABASE} OWNER TO fisioflow_owner`);
    const owner = new pg.Client({ connectionString: databaseUrl(DATABASE, "fisioflow_owner") });
    await owner.connect();
    await migrate(databaseUrl(DATABASE, "fisioflow_owner"), { neon: false, identityKey: LOCAL.identityKey });
    await seed(owner, { pacientes: 2000, consultasPorPaciente: 12 });
    await owner.query("BEGIN");
    await owner.query(SYSTEM_SQL);
    const pairs = await owner.query(
      `SELECT DISTINCT ON (c.paciente_id) c.paciente_id AS paciente, c.fisioterapeuta_id AS fisio,
              date_trunc('month', c.data_consulta AT TIME ZONE 'UTC') AS m
         FROM public.consultas c ORDER BY c.paciente_id, c.data_consulta LIMIT 200`,
    );
    const surname = (
      await owner.query(
        "SELECT split_part(nome, ' ', -1) AS s FROM public.pacientes GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
      )
    ).rows[0].s as string;
    await owner.query("COMMIT");
    await owner.end();

    const app = new pg.Client({ connectionString: databaseUrl(DATABASE, "fisioflow_app") });
    await app.connect();
    const token = (u: string) => BENCH_SIGNER.token(u, "fisioterapeuta");

    // 1. One verification.
    await app.query("BEGIN READ ONLY");
    await app.query(AUTH_SQL, [await token(pairs.rows[0].fisio)]);
    const t = performance.now();
    // The call's result is combined with g, so it runs per row (a filter without g would be a
    // one-time filter, evaluated once).
    await app.query(`SELECT count((app.identidade()).role || g) FROM generate_series(1, ${CALLS}) g`);
    const perCallUs = ((performance.now() - t) * 1000) / CALLS;
    await app.query("COMMIT");
    log(`one verification: ${perCallUs.toFixed(1)} µs (${CALLS} calls in one statement)`);

    // 2. The bench's read statements.
    const statements = {
      "GET /v1/pacientes/:id": (p: (typeof pairs.rows)[number]) => pacienteById(p.paciente),
      "GET /v1/consultas (a month)": (p: (typeof pairs.rows)[number]) => {
        const from = new Date(p.m);
        const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1));
        return consultasOfPaciente(p.paciente, from.toISOString(), to.toISOString());
      },
      "GET /v1/pacientes?q=": () => searchPacientes(surname),
    };
    const rows: {
      statement: string;
      executionMs: number;
      identityMs: number;
      initPlans: number;
      share: number;
    }[] = [];
    for (const [name, make] of Object.entries(statements)) {
      let exec = 0;
      let ident = 0;
      let plans = 0;
      for (let i = 0; i < RUNS; i++) {
        const p = pairs.rows[i % pairs.rows.length];
        const s = make(p);
        await app.query("BEGIN READ ONLY");
        await app.query(AUTH_SQL, [await token(p.fisio)]);
        const r = await app.query(`EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) ${s.text}`, s.params);
        await app.query("COMMIT");
        const out = r.rows[0]["QUERY PLAN"][0] as { Plan: PlanNode; "Execution Time": number };
        const ip = identityInitPlans(out.Plan);
        exec += out["Execution Time"];
        ident += ip.ms;
        plans = Math.max(plans, ip.count);
      }
      rows.push({
        statement: name,
        executionMs: Math.round((exec / RUNS) * 1000) / 1000,
        identityMs: Math.round((ident / RUNS) * 1000) / 1000,
        initPlans: plans,
        share: Math.round((ident / exec) * 1000) / 10,
      });
      log(`${name}: ${JSON.stringify(rows.at(-1))}`);
    }
    await app.end();

    const report = {
      date: new Date().toISOString(),
      machine: { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model, node: process.version },
      verificationMicroseconds: Math.round(perCallUs * 10) / 10,
      statements: rows,
    };
    mkdirSync("bench/results", { recursive: true });
    writeFileSync("bench/results/identity.json", `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(
      "bench/results/identity.md",
      `# What verifying the identity costs PostgreSQL (migration 0012)

${report.date} — ${report.machine.cores} cores (${report.machine.cpu}), PostgreSQL on this machine, as the app role. \`npm run bench:identity\` (bench/identity/run.ts).

- One verification (\`app.identidade()\`: parse, look the key up, two sha256 for the HMAC, two for the comparison): **${report.verificationMicroseconds} µs**.
- Per statement, under EXPLAIN ANALYZE (${RUNS} runs each, 2000 pacientes × 12 consultas): the InitPlans holding the identity calls, their time, and the share of the execution time. No call is per row (test/db/identity.test.ts checks that every call sits in an InitPlan).

| statement | execution ms | identity InitPlans | their ms | share |
|---|---|---|---|---|
${rows.map((r) => `| ${r.statement} | ${r.executionMs} | ${r.initPlans} | ${r.identityMs} | ${r.share}% |`).join("\n")}

EXPLAIN ANALYZE's own timing overhead inflates both columns; the ratio is what to read. The end-to-end figures with the verification in place are in api.md.
`,
    );
    log("wrote bench/results/identity.json and identity.md");
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).catch(() => {});
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
