/**
 * The local Neon API across a restart of the local cloud (`npm run dev` keeps a state file): the
 * branches and endpoints come back, each endpoint serves its branch's data again, on PGlite (data
 * dirs on disk) and PostgreSQL (databases of their own).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNeonClient } from "@neon/sdk";
import { neon } from "@neondatabase/serverless";
import { afterAll, describe, expect, it } from "vitest";
import { LOCAL } from "../../dev/config";
import { startNeonEndpoint } from "../../dev/neon";
import { configureNeonForLocal } from "../../dev/neon/client";
import { startNeonApi } from "../../dev/neon-api";
import { dropDatabase, postgresAdminUrl, testBackends } from "../harness/backends";

const backends = await testBackends();

describe.each(backends)("local Neon API restart on $name", ({ name, skip }) => {
  const dir = mkdtempSync(join(tmpdir(), "fisioflow-api-restart-"));
  const database = `fisioflow_restart_${process.pid}`;
  const dataDir = join(dir, "pglite", database);
  const stateFile = join(dir, "neon-api", `${database}.json`);
  const postgresUrl = name === "postgres" ? postgresAdminUrl() : undefined;
  const start = async () => {
    const endpoint = await startNeonEndpoint({ port: 0, database, dataDir, postgresUrl, log: () => {} });
    configureNeonForLocal(endpoint);
    const api = await startNeonApi({ endpoint, database, dataDir, postgresUrl, stateFile, log: () => {} });
    const client = createNeonClient({
      apiKey: api.apiKey,
      baseUrl: api.url,
      throwOnError: true,
      wait: { pollIntervalMs: 50 },
    });
    const ownerOf = (branchId: string) =>
      client.postgres.connectionString({
        projectId: api.projectId,
        branchId,
        databaseName: database,
        roleName: "fisioflow_owner",
        pooled: false,
      });
    return { endpoint, api, client, ownerOf };
  };
  let last: Awaited<ReturnType<typeof start>> | undefined;

  afterAll(async () => {
    await last?.api.closeAndDrop();
    await last?.endpoint.close();
    if (postgresUrl && !skip) await dropDatabase(database);
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(skip)("branches, endpoints and their data come back after a restart", async () => {
    const first = await start();
    last = first;
    const mainUrl = first.endpoint.connectionString("fisioflow_owner", database);
    await neon(mainUrl)`create table kept (v text)`;
    await neon(mainUrl)`insert into kept values ('from main')`;
    const branch = await first.client.branches.create({
      projectId: first.api.projectId,
      name: "feature/kept",
    });
    await neon(await first.ownerOf(branch.id))`insert into kept values ('on the branch')`;
    await first.api.close();
    await first.endpoint.close();
    last = undefined;

    const second = await start();
    last = second;
    const names = (await second.client.branches.list({ projectId: second.api.projectId }).all()).map(
      (b) => b.name,
    );
    expect(names.sort()).toEqual(["feature/kept", "main"]);
    const [ep] = await second.client.postgres.endpoints.listByBranch({
      projectId: second.api.projectId,
      branchId: branch.id,
    });
    expect(ep?.current_state).toBe("active");
    expect(await neon(await second.ownerOf(branch.id))`select v from kept order by v`).toEqual([
      { v: "from main" },
      { v: "on the branch" },
    ]);
    expect(
      await neon(second.endpoint.connectionString("fisioflow_owner", database))`select v from kept`,
    ).toEqual([{ v: "from main" }]);
    expect(LOCAL.neonApi.mainBranchId).toMatch(/^br-[a-z0-9]+-[a-z0-9]+-[a-z0-9]+$/); // neonctl's id shape
  });
});
