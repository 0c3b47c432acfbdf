/**
 * The worker's Neon API layer (jobs/neon/api.ts, over @neon/sdk) against the local Neon API, on
 * both backends: every call it makes, its views carry no secret, a 423 from a running operation is
 * retried until the operation ends (the SDK's wrappers and the layer's own restore), and Neon's
 * errors come back with their status and kind.
 */
import { neon } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL } from "../../dev/config";
import { NeonControlPlane, NeonControlPlaneError } from "../../jobs/neon/api";
import { policyFor } from "../../jobs/neon/policy";
import { testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();
const SECRETS = [...Object.values(LOCAL.roles), LOCAL.neonApi.key];
const noSecret = (value: unknown) => {
  const text = JSON.stringify(value);
  for (const s of SECRETS) expect(text).not.toContain(s);
  expect(text).not.toContain("postgresql://");
};

describe.each(backends)("the Neon API layer on $name", ({ name, skip }) => {
  let t: TestEndpoint;
  let cp: NeonControlPlane;

  beforeAll(async () => {
    if (skip) return;
    t = await startTestEndpoint(name, { prefix: "fisioflow_cp", neonApi: true });
    cp = new NeonControlPlane({
      apiKey: t.neonApi!.apiKey,
      projectId: t.neonApi!.projectId,
      baseUrl: t.neonApi!.url,
      wait: { pollIntervalMs: 50, timeoutMs: 60_000 },
    });
    await neon(t.ownerUrl)`create table cp_probe (v text)`;
    await neon(t.ownerUrl)`insert into cp_probe values ('main')`;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it.skipIf(skip)("reads the project, branches, databases and roles, without secrets", async () => {
    const project = await cp.project();
    expect(project).toMatchObject({ id: LOCAL.neonApi.projectId });
    const branches = await cp.listBranches();
    expect(branches).toEqual([expect.objectContaining({ name: "main", default: true, parentId: null })]);
    expect(await cp.listDatabases(branches[0]!.id)).toEqual([{ name: t.database, owner: "fisioflow_owner" }]);
    expect((await cp.listRoles(branches[0]!.id)).map((r) => r.name).sort()).toEqual(
      Object.keys(LOCAL.roles).sort(),
    );
    noSecret([project, branches, await cp.listEndpoints()]);
  });

  it.skipIf(skip)("creates a branch by policy, changes and adds endpoints, deletes them", async () => {
    const policy = policyFor("staging")!;
    const staging = await cp.createBranch({
      name: "staging",
      parentId: t.neonApi!.mainBranchId,
      endpoint: policy.endpoint,
    });
    expect(staging).toMatchObject({ name: "staging", parentId: t.neonApi!.mainBranchId, state: "ready" });
    const [rw] = await cp.listEndpoints(staging.id);
    expect(rw).toMatchObject({ type: "read_write", ...policy.endpoint });
    const changed = await cp.updateEndpoint(rw!.id, {
      autoscaling_limit_max_cu: 2,
      suspend_timeout_seconds: 120,
    });
    expect(changed).toMatchObject({
      autoscaling_limit_min_cu: 1,
      autoscaling_limit_max_cu: 2,
      suspend_timeout_seconds: 120,
    });
    const replica = await cp.createEndpoint(staging.id, "read_only", {
      autoscaling_limit_min_cu: 0.25,
      autoscaling_limit_max_cu: 0.5,
    });
    expect(replica).toMatchObject({ type: "read_only", branchId: staging.id, state: "active" });
    noSecret([staging, rw, changed, replica]);

    // The connection string is the one secret it hands out, and it works.
    const url = await cp.connectionString({
      branchId: staging.id,
      database: t.database,
      role: "fisioflow_owner",
    });
    expect(await neon(url)`select v from cp_probe`).toEqual([{ v: "main" }]);

    await cp.deleteEndpoint(replica.id);
    expect((await cp.listEndpoints(staging.id)).map((e) => e.type)).toEqual(["read_write"]);
    await cp.deleteBranch(staging.id);
    expect((await cp.listBranches()).map((b) => b.name)).toEqual(["main"]);
  });

  it.skipIf(skip)(
    "a restore waits out a running operation (423, retried) and keeps the old state",
    async () => {
      const backup = await cp.createBranch({
        name: "backup/probe",
        parentId: t.neonApi!.mainBranchId,
        endpoint: null,
      });
      await neon(t.ownerUrl)`update cp_probe set v = 'damaged'`;
      // A branch of main being created holds main: the restore's first tries get 423.
      const lockedBefore = t.neonApi!.project.stats.locked;
      const creating = cp.createBranch({
        name: "feature/busy",
        parentId: t.neonApi!.mainBranchId,
        endpoint: null,
      });
      await new Promise((r) => setTimeout(r, 5));
      const restored = await cp.restoreBranch(
        t.neonApi!.mainBranchId,
        { branchId: backup.id },
        "pre-restore/probe",
      );
      await creating;
      expect(t.neonApi!.project.stats.locked).toBeGreaterThan(lockedBefore); // it did meet a 423
      expect(restored.id).toBe(t.neonApi!.mainBranchId);
      expect(await neon(t.ownerUrl)`select v from cp_probe`).toEqual([{ v: "main" }]);
      const kept = await cp.branchByName("pre-restore/probe");
      expect(kept).not.toBeNull();
      const locked = t.neonApi!.project.listOperations().filter((o) => o.action === "create_branch");
      expect(locked.every((o) => o.status === "finished")).toBe(true);
    },
  );

  it.skipIf(skip)("Neon's errors keep their status and kind; point-in-time is refused locally", async () => {
    await expect(cp.getBranch("br-no-such-00000000")).rejects.toMatchObject({
      status: 404,
      kind: "not_found",
    });
    const bad = new NeonControlPlane({
      apiKey: "wrong",
      projectId: t.neonApi!.projectId,
      baseUrl: t.neonApi!.url,
    });
    await expect(bad.listEndpoints()).rejects.toBeInstanceOf(NeonControlPlaneError);
    await expect(bad.listEndpoints()).rejects.toMatchObject({ status: 401, kind: "auth" });
    await expect(
      cp.restoreBranch(
        t.neonApi!.mainBranchId,
        { branchId: t.neonApi!.mainBranchId, timestamp: new Date().toISOString() },
        "x",
      ),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("point-in-time") });
    expect(() => new NeonControlPlane({ apiKey: "", projectId: "p" })).toThrow(/NEON_API_KEY/);
  });
});
