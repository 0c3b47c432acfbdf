/**
 * The local Neon API v2 (dev/neon-api) with Neon's official clients — @neon/sdk, the older
 * @neondatabase/api-client and the neonctl CLI — on PGlite and PostgreSQL: a branch is a real copy
 * of its parent, each endpoint answers on its own port over HTTP, WebSocket and TCP, a read_only
 * endpoint refuses writes and sees the primary's commits, a restore brings data back and keeps
 * the damaged state under its new name, operations move through Neon's states, a conflicting
 * mutation gets 423 and errors have Neon's shape.
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createNeonClient, type NeonClient } from "@neon/sdk";
import { restoreProjectBranch } from "@neon/sdk/raw";
import { createApiClient } from "@neondatabase/api-client";
import { neon, Pool } from "@neondatabase/serverless";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NeonApi, startNeonApi } from "../../dev/neon-api";
import { postgresAdminUrl, probeClientProgram, testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const run = promisify(execFile);
const backends = await testBackends();
const noPsql = probeClientProgram("psql");

/** neonctl against the local API, offline: no analytics, no config or context files of the user's. */
async function neonctl(api: NeonApi, args: string[]): Promise<string> {
  const config = mkdtempSync(join(tmpdir(), "neonctl-"));
  const { stdout } = await run(
    process.execPath,
    [
      "node_modules/neonctl/bin/cli.js",
      ...args,
      "--api-host",
      api.url,
      "--no-analytics",
      "--config-dir",
      config,
      "--context-file",
      join(config, "none"),
    ],
    { timeout: 60_000, env: { ...process.env, NEON_API_KEY: api.apiKey, CI: "true" } },
  );
  return stdout;
}

describe.each(backends)("local Neon API on $name", ({ name, skip }) => {
  let t: TestEndpoint;
  let api: NeonApi;
  let client: NeonClient<true>;

  beforeAll(async () => {
    if (skip) return;
    t = await startTestEndpoint(name, { migrate: true, prefix: "fisioflow_api" });
    api = await startNeonApi({
      endpoint: t.endpoint,
      database: t.database,
      postgresUrl: name === "postgres" ? postgresAdminUrl() : undefined,
      dataDir: "memory://",
      log: () => {},
    });
    client = createNeonClient({
      apiKey: api.apiKey,
      baseUrl: api.url,
      throwOnError: true,
      wait: { pollIntervalMs: 50, timeoutMs: 60_000 },
    });
    // Something of the parent's to find in its branches.
    await neon(t.ownerUrl)`create table branch_probe (id int primary key, note text)`;
    await neon(t.ownerUrl)`insert into branch_probe values (1, 'before branching')`;
  }, 120_000);

  afterAll(async () => {
    await api?.closeAndDrop();
    await t?.close();
  });

  const owner = async (branchId: string, endpointId?: string) =>
    client.postgres.connectionString({
      projectId: api.projectId,
      branchId,
      endpointId,
      databaseName: t.database,
      roleName: "fisioflow_owner",
      pooled: false,
    });

  it.skipIf(skip)("a feature branch is a copy: written to, its parent unchanged", async () => {
    const branch = await client.branches.create({
      projectId: api.projectId,
      name: "feature/probe",
      compute: { minCu: 0.25, maxCu: 0.25, suspendTimeoutSeconds: 30 },
    });
    expect(branch).toMatchObject({ name: "feature/probe", parent_id: api.mainBranchId });
    const ready = await client.branches.get({ projectId: api.projectId, branchId: branch.id });
    expect(ready.current_state).toBe("ready");
    const [endpoint] = await client.postgres.endpoints.listByBranch({
      projectId: api.projectId,
      branchId: branch.id,
    });
    expect(endpoint).toMatchObject({
      type: "read_write",
      autoscaling_limit_min_cu: 0.25,
      current_state: "active",
    });

    const url = await owner(branch.id);
    expect(await neon(url)`select note from branch_probe`).toEqual([{ note: "before branching" }]);
    await neon(url)`insert into branch_probe values (2, 'on the branch')`;
    // Over the WebSocket too, and the same endpoint.
    const pool = new Pool({ connectionString: url });
    expect((await pool.query("select count(*)::int as n from branch_probe")).rows).toEqual([{ n: 2 }]);
    await pool.end();
    expect(await neon(t.ownerUrl)`select id from branch_probe order by id`).toEqual([{ id: 1 }]);

    // Over plain TCP with `pg` (what psql and drizzle-kit do).
    const tcp = new pg.Client({ connectionString: url });
    await tcp.connect();
    expect((await tcp.query("select count(*)::int as n from branch_probe")).rows).toEqual([{ n: 2 }]);
    await tcp.end();
  });

  it.skipIf(skip)("a read_only endpoint refuses writes (25006) and sees the primary's commits", async () => {
    const replica = await client.postgres.endpoints.create({
      projectId: api.projectId,
      branch_id: api.mainBranchId,
      type: "read_only",
      autoscaling_limit_min_cu: 0.25,
      autoscaling_limit_max_cu: 1,
    });
    await client.operations.waitFor({
      operations: (await client.operations.list({ projectId: api.projectId }).all()).filter(
        (o) => o.endpoint_id === replica.id,
      ),
    });
    const url = await owner(api.mainBranchId, replica.id);
    await neon(t.ownerUrl)`insert into branch_probe values (10, 'committed on the primary')`;
    expect(await neon(url)`select note from branch_probe where id = 10`).toEqual([
      { note: "committed on the primary" },
    ]);
    await expect(neon(url)`insert into branch_probe values (11, 'x')`).rejects.toMatchObject({
      code: "25006",
    });
    await expect(neon(url)`set default_transaction_read_only = off`).rejects.toMatchObject({ code: "25006" });
    const pool = new Pool({ connectionString: url });
    await expect(pool.query("delete from branch_probe")).rejects.toMatchObject({ code: "25006" });
    await expect(pool.query("begin read write")).rejects.toMatchObject({ code: "25006" });
    await pool.end();
    const tcp = new pg.Client({ connectionString: url });
    await tcp.connect();
    await expect(tcp.query("update branch_probe set note = 'x'")).rejects.toMatchObject({ code: "25006" });
    await tcp.end();
    // The primary still writes.
    await neon(t.ownerUrl)`delete from branch_probe where id = 10`;
    await client.postgres.endpoints.delete({ projectId: api.projectId, endpointId: replica.id });
  });

  it.skipIf(skip)(
    "a backup, damage, restore: the data is back and the damaged state kept under its name",
    async () => {
      const backup = await client.branches.create({
        projectId: api.projectId,
        name: "backup-2026-11-29T000000Z",
        noCompute: true,
      });
      await neon(t.ownerUrl)`delete from branch_probe`;
      await neon(t.ownerUrl)`insert into branch_probe values (99, 'damage')`;

      const restored = await restoreProjectBranch({
        client: client.client,
        path: { project_id: api.projectId, branch_id: api.mainBranchId },
        body: { source_branch_id: backup.id, preserve_under_name: "main-before-restore" },
        throwOnError: true,
      });
      await client.operations.waitFor({ operations: restored.operations });
      expect(await neon(t.ownerUrl)`select id, note from branch_probe order by id`).toEqual([
        { id: 1, note: "before branching" },
      ]);
      const branches = await client.branches.list({ projectId: api.projectId }).all();
      const kept = branches.find((b) => b.name === "main-before-restore");
      expect(kept).toBeDefined();
      const ep = await client.postgres.endpoints.create({
        projectId: api.projectId,
        branch_id: kept!.id,
        type: "read_write",
      });
      await client.operations.waitFor({
        operations: (await client.operations.list({ projectId: api.projectId }).all()).filter(
          (o) => o.endpoint_id === ep.id,
        ),
      });
      expect(await neon(await owner(kept!.id))`select id from branch_probe`).toEqual([{ id: 99 }]);
    },
  );

  it.skipIf(skip)(
    "operations go scheduling → running → finished; a conflicting mutation gets 423",
    async () => {
      const raw = createNeonClient({
        apiKey: api.apiKey,
        baseUrl: api.url,
        retries: 0,
        waitForReadiness: false,
      });
      const created = await raw.branches.create({
        projectId: api.projectId,
        name: "locked",
        noCompute: true,
      });
      expect(created.error).toBeUndefined();
      const again = await raw.branches.update({
        projectId: api.projectId,
        branchId: created.data!.id,
        name: "x",
      });
      // update is not locked (Neon renames at once); a delete while the copy runs is.
      expect(again.error).toBeUndefined();
      const del = await raw.branches.delete({ projectId: api.projectId, branchId: created.data!.id });
      expect(del.error).toMatchObject({ kind: "api", status: 423 });
      const ops = (await client.operations.list({ projectId: api.projectId }).all()).filter(
        (o) => o.branch_id === created.data!.id,
      );
      await client.operations.waitFor({ operations: ops });
      const done = await client.operations.get({ projectId: api.projectId, operationId: ops[0]!.id });
      expect(done.status).toBe("finished");
      await client.branches.delete({ projectId: api.projectId, branchId: created.data!.id });
    },
  );

  it.skipIf(skip)("errors have Neon's shape; a wrong key is refused", async () => {
    const missing = await client.branches.get(
      { projectId: api.projectId, branchId: "br-no-such-00000000" },
      { throwOnError: false },
    );
    expect(missing.error).toMatchObject({ kind: "not_found", status: 404 });
    const bad = createNeonClient({ apiKey: "wrong", baseUrl: api.url });
    expect(
      (await bad.branches.get({ projectId: api.projectId, branchId: api.mainBranchId })).error,
    ).toMatchObject({
      kind: "auth",
    });
    const invalid = await client.postgres.endpoints.create(
      {
        projectId: api.projectId,
        branch_id: api.mainBranchId,
        type: "read_only",
        autoscaling_limit_min_cu: 0.3,
      },
      { throwOnError: false },
    );
    expect(invalid.error).toMatchObject({ kind: "api", status: 400 });
  });

  it.skipIf(skip)("@neondatabase/api-client lists and reads the same branches", async () => {
    const old = createApiClient({ apiKey: api.apiKey, baseURL: api.url });
    const { data } = await old.listProjectBranches({ projectId: api.projectId });
    expect(data.branches.map((b) => b.name)).toContain("main");
    const { data: pw } = await old.getProjectBranchRolePassword(
      api.projectId,
      api.mainBranchId,
      "fisioflow_app",
    );
    expect(typeof pw.password).toBe("string");
  });

  it.skipIf(skip || noPsql)(
    "neonctl: branches list, branches create, connection-string, and psql with it",
    async () => {
      const list = JSON.parse(
        await neonctl(api, ["branches", "list", "--project-id", api.projectId, "-o", "json"]),
      );
      expect(list.map((b: { name: string }) => b.name)).toContain("main");
      const table = await neonctl(api, ["branches", "list", "--project-id", api.projectId]);
      expect(table).toContain("main");
      const created = JSON.parse(
        await neonctl(api, [
          "branches",
          "create",
          "--project-id",
          api.projectId,
          "--name",
          "feature/cli",
          "-o",
          "json",
        ]),
      );
      expect(created.branch).toMatchObject({ name: "feature/cli" });
      await client.operations.waitFor({
        operations: (await client.operations.list({ projectId: api.projectId }).all()).filter(
          (o) => o.branch_id === created.branch.id,
        ),
      });
      const uri = (
        await neonctl(api, [
          "connection-string",
          "feature/cli",
          "--project-id",
          api.projectId,
          "--role-name",
          "fisioflow_owner",
          "--ssl",
          "omit",
        ])
      ).trim();
      expect(uri).toMatch(/^postgresql:\/\/fisioflow_owner:[^@]+@127\.0\.0\.1:\d+\//);
      const { stdout } = await run("psql", [uri, "-XAtc", "select count(*) from branch_probe"], {
        env: { ...process.env, PGCONNECT_TIMEOUT: "10" },
      });
      expect(stdout.trim()).toMatch(/^\d+$/);
    },
  );
});
