/**
 * `npm run bench:neon-branch`: how long the local Neon API takes to branch and to restore, on each
 * backend, with a migrated database seeded with `--pacientes` (default 2000; about 20 consultas
 * each), through the official @neon/sdk with operation polling every 50 ms:
 *   - create: a branch with a read_write endpoint, from POST to the operations finished;
 *   - first query: the new endpoint's first answer over HTTP (neon());
 *   - replica: a read_only endpoint on main, from POST to finished;
 *   - restore: main from a backup branch, preserving the old state, POST to finished.
 * Each is run `--runs` times (default 3); the median is kept. Writes bench/results/neon-api.{json,md}.
 * Neon itself branches copy-on-write in about a second whatever the size; here a branch is a full
 * copy (pg_dump | pg_restore, or PGlite's files), so the figures grow with the data: they say how
 * long a developer waits locally, not what Neon does.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { createNeonClient } from "@neon/sdk";
import { restoreProjectBranch } from "@neon/sdk/raw";
import { neon } from "@neondatabase/serverless";
import { migrate } from "../../db/migrate";
import { openClient } from "../../db/owner-client";
import { seed } from "../../db/seed";
import { LOCAL } from "../../dev/config";
import { startNeonEndpoint } from "../../dev/neon";
import { configureNeonForLocal } from "../../dev/neon/client";
import { startNeonApi } from "../../dev/neon-api";
import { ADMIN_URL, admin } from "../neon-endpoint/shared";

const { values } = parseArgs({
  options: {
    pacientes: { type: "string", default: "2000" },
    runs: { type: "string", default: "3" },
    backends: { type: "string", default: "postgres,pglite" },
  },
});
const pacientes = Number(values.pacientes);
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

interface Row {
  backend: string;
  createMs: number;
  firstQueryMs: number;
  replicaMs: number;
  restoreMs: number;
  databaseBytes: number;
}

async function bench(backend: "postgres" | "pglite"): Promise<Row> {
  const database = `neon_api_bench_${process.pid}`;
  const postgresUrl = backend === "postgres" ? ADMIN_URL : undefined;
  const endpoint = await startNeonEndpoint({
    port: 0,
    database,
    postgresUrl,
    dataDir: "memory://",
    log: () => {},
  });
  configureNeonForLocal(endpoint);
  const ownerUrl = endpoint.connectionString("fisioflow_owner", database);
  const api = await startNeonApi({ endpoint, database, postgresUrl, dataDir: "memory://", log: () => {} });
  try {
    await migrate(ownerUrl, { neon: true, identityKey: LOCAL.identityKey });
    const { client, close } = await openClient(ownerUrl, true);
    try {
      const report = await seed(client, { pacientes, seed: 1 });
      console.log(`${backend}: seeded ${JSON.stringify(report.counts)}`);
    } finally {
      await close();
    }
    const [{ bytes }] = (await neon(
      ownerUrl,
    )`select pg_database_size(current_database())::float8 as bytes`) as {
      bytes: number;
    }[];
    const sdk = createNeonClient({
      apiKey: api.apiKey,
      baseUrl: api.url,
      throwOnError: true,
      wait: { pollIntervalMs: 50, timeoutMs: 600_000 },
    });
    const projectId = api.projectId;
    const create: number[] = [];
    const first: number[] = [];
    const replica: number[] = [];
    const restore: number[] = [];
    for (let i = 0; i < runs; i++) {
      let branchId = "";
      create.push(
        await time(async () => {
          branchId = (await sdk.branches.create({ projectId, name: `feature/bench-${i}` })).id;
        }),
      );
      const url = await sdk.postgres.connectionString({
        projectId,
        branchId,
        databaseName: database,
        roleName: "fisioflow_owner",
        pooled: false,
      });
      first.push(await time(() => neon(url)`select count(*) from pacientes`));
      let replicaId = "";
      replica.push(
        await time(async () => {
          replicaId = (
            await sdk.postgres.endpoints.create(
              { projectId, branch_id: api.mainBranchId, type: "read_only" },
              { waitForReadiness: true },
            )
          ).id;
        }),
      );
      await sdk.postgres.endpoints.delete({ projectId, endpointId: replicaId });
      const backup = await sdk.branches.create({ projectId, name: `backup/bench-${i}`, noCompute: true });
      restore.push(
        await time(async () => {
          const r = await restoreProjectBranch({
            client: sdk.client,
            path: { project_id: projectId, branch_id: api.mainBranchId },
            body: { source_branch_id: backup.id, preserve_under_name: `pre-restore/bench-${i}` },
            throwOnError: true,
          });
          await sdk.operations.waitFor({ operations: r.operations });
        }),
      );
      console.log(
        `${backend} run ${i + 1}: create ${create.at(-1)!.toFixed(0)} ms, first query ${first.at(-1)!.toFixed(0)} ms, replica ${replica.at(-1)!.toFixed(0)} ms, restore ${restore.at(-1)!.toFixed(0)} ms`,
      );
    }
    return {
      backend,
      createMs: median(create),
      firstQueryMs: median(first),
      replicaMs: median(replica),
      restoreMs: median(restore),
      databaseBytes: bytes,
    };
  } finally {
    await api.closeAndDrop();
    await endpoint.close();
    if (backend === "postgres") await admin(`drop database if exists "${database}" with (force)`);
  }
}

const rows: Row[] = [];
for (const b of values.backends!.split(",") as ("postgres" | "pglite")[]) rows.push(await bench(b));
const machine = `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(2)}`;
const result = { when: new Date().toISOString(), machine, pacientes, runs, rows };
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/neon-api.json", `${JSON.stringify(result, null, 2)}\n`);
const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
const md = [
  "# Local Neon API: branching and restore",
  "",
  `${result.when}; ${machine}. \`npm run bench:neon-branch -- --pacientes ${pacientes} --runs ${runs}\`: medians through @neon/sdk (operations polled every 50 ms).`,
  "",
  "| backend | database | branch + endpoint ready | its first query | read replica ready | restore main from a backup |",
  "| ------- | -------- | ----------------------- | --------------- | ------------------ | -------------------------- |",
  ...rows.map(
    (r) =>
      `| ${r.backend} | ${mb(r.databaseBytes)} | ${r.createMs.toFixed(0)} ms | ${r.firstQueryMs.toFixed(0)} ms | ${r.replicaMs.toFixed(0)} ms | ${r.restoreMs.toFixed(0)} ms |`,
  ),
  "",
  "A local branch is a full copy of its parent (pg_dump | pg_restore, or PGlite's files), so these grow with the data; Neon branches copy-on-write.",
  "",
].join("\n");
writeFileSync("bench/results/neon-api.md", md);
console.log(md);
