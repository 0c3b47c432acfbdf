/**
 * The Neon control-plane routes end to end: /v1/ops/branches, /replicas, /backups and /restore in
 * workerd against the local Neon API (dev/neon-api) on both database backends, where a branch is a
 * real copy of its parent's data. One cloud per backend (branching copies databases): the tests of
 * a backend run in order and build on each other. Every answer is checked for secrets (the local
 * roles' passwords, connection strings, the API key) and for `Cache-Control: no-store`; the
 * in-process cases cover an unconfigured worker, Neon refusing the key or not answering, and
 * what reaches the log lines.
 */
import { neon } from "@neondatabase/serverless";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Auth } from "../../db/session";
import { LOCAL } from "../../dev/config";
import { createApp } from "../../functions/app";
import { backupName } from "../../jobs/backups/retention";
import { NeonControlPlane } from "../../jobs/neon/api";
import { type ApiAnswer, apiClient, type CallApi } from "../harness/api";
import { expectNoLeak } from "../harness/api-suite";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { type Cloud, startCloud } from "../harness/cloud";
import type { Json } from "../harness/http";

const backends = await testBackends();

/** What no answer and no log line may hold. */
const SECRETS = [...Object.values(LOCAL.roles), LOCAL.neonApi.key, "postgresql://", "postgres://"];

const admin: Auth = { userId: crypto.randomUUID(), role: "admin" };
const fisio: Auth = { userId: crypto.randomUUID(), role: "fisioterapeuta" };
const paciente: Auth = { userId: crypto.randomUUID(), role: "paciente" };

/** Every route of this file, with a body that passes validation. */
const ROUTES: [method: string, path: string, body?: unknown][] = [
  ["GET", "/v1/ops/branches"],
  ["POST", "/v1/ops/branches", { name: "staging" }],
  ["DELETE", "/v1/ops/branches/feature%2Fx"],
  ["GET", "/v1/ops/replicas"],
  ["POST", "/v1/ops/replicas", { min_cu: 0.25, max_cu: 1 }],
  ["DELETE", "/v1/ops/replicas/ep-nothing-here-00000000"],
  ["GET", "/v1/ops/backups"],
  ["POST", "/v1/ops/restore", { backup: "backup/2026-01-01T00-00-00Z" }],
];

const DAY = 86_400_000;
const PROBE = "ops_neon_probe";

describe.each(backends)("the Neon control-plane routes on $name", ({ name, skip }) => {
  let cloud: Cloud;
  let call: CallApi;
  /** The test's own client of the local Neon API (fixtures: backup branches, endpoints). */
  let control: NeonControlPlane;

  beforeAll(async () => {
    if (skip) return;
    cloud = await startCloud({
      backend: name,
      neonApi: true,
      // Two backups a day apart: the newer is kept, the older is retention's to delete.
      vars: { BACKUP_KEEP_DAILY: "1", BACKUP_KEEP_WEEKLY: "0" },
    });
    call = apiClient(cloud);
    const api = cloud.neonApi!;
    control = new NeonControlPlane({
      apiKey: api.apiKey,
      projectId: api.projectId,
      baseUrl: api.url,
      wait: { pollIntervalMs: 50 },
    });
    await branchSql(api.mainBranchId).query(`CREATE TABLE ${PROBE} (v text PRIMARY KEY)`);
  });
  afterAll(async () => {
    await cloud?.close();
  });

  /** One call to the worker; whatever it answers carries no secret and is never cached. */
  async function api(
    auth: Auth | null,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiAnswer> {
    const res = await call(auth, method, path, body, headers);
    expectNoLeak(res.body, SECRETS);
    // Replays too: the idempotency middleware keeps Cache-Control.
    if (auth) {
      const what = `${method} ${path} ${res.status} ${JSON.stringify(res.body)}`;
      expect(res.headers.get("cache-control"), what).toBe("no-store");
    }
    return res;
  }

  /** The owner on a branch's read_write endpoint (or on `endpointId`), over Neon's HTTP driver. */
  function branchSql(branchId: string, endpointId?: string) {
    const uri = cloud.neonApi!.project.connectionUri({
      branch_id: branchId,
      ...(endpointId ? { endpoint_id: endpointId } : {}),
      database_name: cloud.database,
      role_name: "fisioflow_owner",
    });
    return neon(uri);
  }
  const probes = async (branchId: string, endpointId?: string) =>
    (
      (await branchSql(branchId, endpointId).query(`SELECT v FROM ${PROBE} ORDER BY v`)) as { v: string }[]
    ).map((r) => r.v);
  const mainId = () => cloud.neonApi!.mainBranchId;
  const branches = async (): Promise<Json[]> => {
    const res = await api(admin, "GET", "/v1/ops/branches");
    expect(res.status).toBe(200);
    return res.body.data;
  };
  const byName = async (n: string) => (await branches()).find((b) => b.name === n);

  it.skipIf(skip)("lists main with its endpoint's drift from the main policy", async () => {
    const res = await api(admin, "GET", "/v1/ops/branches");
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    const [main] = res.body.data;
    expect(main).toMatchObject({
      id: mainId(),
      name: "main",
      parent: null,
      state: "ready",
      default: true,
      protected: false,
      expires_at: null,
      policy: "main",
      replicas: 0,
      endpoint: {
        id: expect.stringMatching(/^ep-/),
        host: expect.any(String),
        autoscaling_limit_min_cu: 0.25,
        autoscaling_limit_max_cu: 2,
        suspend_timeout_seconds: 0,
      },
    });
    // The local main endpoint runs 0.25–2 CU and never suspends; the policy wants 2–4 CU, 300 s.
    expect(main.endpoint.drift).toEqual([
      { field: "autoscaling_limit_min_cu", want: 2, have: 0.25 },
      { field: "autoscaling_limit_max_cu", want: 4, have: 2 },
      { field: "suspend_timeout_seconds", want: 300, have: 0 },
    ]);
    expect(Date.parse(main.created_at)).not.toBeNaN();
  });

  it.skipIf(skip)(
    "creates staging, development and feature/x by the policy, each a real copy of its parent",
    async () => {
      await branchSql(mainId()).query(`INSERT INTO ${PROBE} VALUES ('on-main')`);

      const early = await api(admin, "POST", "/v1/ops/branches", { name: "development" });
      expect(early.status).toBe(409);
      expect(early.body.error).toMatchObject({
        code: "conflict",
        message: expect.stringContaining("staging"),
      });

      const staging = await api(admin, "POST", "/v1/ops/branches", { name: "staging" });
      expect(staging.status, JSON.stringify(staging.body)).toBe(201);
      expect(staging.body).toMatchObject({
        name: "staging",
        parent: { id: mainId(), name: "main" },
        default: false,
        policy: "staging",
        expires_at: null,
        replicas: 0,
        endpoint: {
          autoscaling_limit_min_cu: 1,
          autoscaling_limit_max_cu: 2,
          suspend_timeout_seconds: 60,
          drift: [],
        },
      });
      expect(await probes(staging.body.id)).toEqual(["on-main"]);
      // Written on staging after the copy: development (its child) sees it, main does not.
      await branchSql(staging.body.id).query(`INSERT INTO ${PROBE} VALUES ('on-staging')`);

      const again = await api(admin, "POST", "/v1/ops/branches", { name: "staging" });
      expect(again.status).toBe(409);
      expect(again.body.error.message).toContain("already exists");

      const development = await api(admin, "POST", "/v1/ops/branches", { name: "development" });
      expect(development.status, JSON.stringify(development.body)).toBe(201);
      expect(development.body).toMatchObject({
        name: "development",
        parent: { id: staging.body.id, name: "staging" },
        policy: "development",
        endpoint: {
          autoscaling_limit_min_cu: 0.25,
          autoscaling_limit_max_cu: 1,
          suspend_timeout_seconds: 30,
        },
      });
      expect(await probes(development.body.id)).toEqual(["on-main", "on-staging"]);

      const before = Date.now();
      const feature = await api(admin, "POST", "/v1/ops/branches", { name: "feature/x" });
      expect(feature.status, JSON.stringify(feature.body)).toBe(201);
      expect(feature.body).toMatchObject({
        name: "feature/x",
        parent: { id: development.body.id, name: "development" },
        policy: "feature/*",
        endpoint: {
          autoscaling_limit_min_cu: 0.25,
          autoscaling_limit_max_cu: 0.25,
          suspend_timeout_seconds: 30,
          drift: [],
        },
      });
      // FEATURE_BRANCH_TTL_DAYS (default 7) from now, to the second.
      const expires = Date.parse(feature.body.expires_at);
      expect(expires).toBeGreaterThanOrEqual(before + 7 * DAY - 2000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 7 * DAY + 1000);
      expect(await probes(feature.body.id)).toEqual(["on-main", "on-staging"]);
      expect(await probes(mainId())).toEqual(["on-main"]);

      const listed = await branches();
      expect(listed.map((b) => [b.name, b.policy, b.endpoint?.drift.length])).toEqual(
        expect.arrayContaining([
          ["main", "main", 3],
          ["staging", "staging", 0],
          ["development", "development", 0],
          ["feature/x", "feature/*", 0],
        ]),
      );
      expect(listed).toHaveLength(4);
    },
    180_000,
  );

  it.skipIf(skip)("refuses names the policy does not manage (422) and malformed bodies (400)", async () => {
    for (const [body, status, says] of [
      [{ name: "main" }, 422, "main"],
      [{ name: "qa" }, 422, "staging, development or feature/<name>"],
      [{ name: "feature/Agenda" }, 422, "feature/<name>"],
      [{ name: "feature/" }, 422, "feature/<name>"],
      [{ name: "" }, 400, "Invalid request"],
      [{ name: "../etc" }, 400, "Invalid request"],
      [{ name: 5 }, 400, "Invalid request"],
      [{}, 400, "Invalid request"],
      [{ name: "staging", parent: "main" }, 400, "Invalid request"],
      ["not json", 400, ""],
    ] as const) {
      const res = await api(admin, "POST", "/v1/ops/branches", body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.message, JSON.stringify(body)).toContain(says);
    }
    expect(await branches()).toHaveLength(4);
  });

  it.skipIf(skip)(
    "adds a read replica to main, lists it, refuses bad sizes and a read_write id, removes it",
    async () => {
      const mainEndpoint = (await byName("main"))!.endpoint.id;
      for (const body of [
        { min_cu: 0.3, max_cu: 1 },
        { min_cu: 1, max_cu: 10 },
        { min_cu: 2, max_cu: 1 },
        { min_cu: 0.25, max_cu: 57 },
        { min_cu: 0.25 },
        { min_cu: "1", max_cu: 2 },
        { min_cu: 0.25, max_cu: 1, type: "read_write" },
      ]) {
        const res = await api(admin, "POST", "/v1/ops/replicas", body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe("bad_request");
      }
      const unknown = await api(admin, "POST", "/v1/ops/replicas", {
        branch: "nope",
        min_cu: 0.25,
        max_cu: 1,
      });
      expect(unknown.status).toBe(404);

      const created = await api(admin, "POST", "/v1/ops/replicas", { min_cu: 0.25, max_cu: 1 });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({
        id: expect.stringMatching(/^ep-/),
        branch: { id: mainId(), name: "main" },
        host: expect.any(String),
        state: "active",
        autoscaling_limit_min_cu: 0.25,
        autoscaling_limit_max_cu: 1,
      });
      // A replica of main's data that refuses writes.
      expect(await probes(mainId(), created.body.id)).toEqual(["on-main"]);
      await expect(
        branchSql(mainId(), created.body.id).query(`INSERT INTO ${PROBE} VALUES ('through-replica')`),
      ).rejects.toThrow();

      const listed = await api(admin, "GET", "/v1/ops/replicas");
      expect(listed.status).toBe(200);
      expect(listed.body.data).toEqual([created.body]);
      expect((await byName("main"))!.replicas).toBe(1);

      const primary = await api(admin, "DELETE", `/v1/ops/replicas/${mainEndpoint}`);
      expect(primary.status).toBe(422);
      expect(primary.body.error.message).toContain("read_write");
      const malformed = await api(admin, "DELETE", "/v1/ops/replicas/not-an-endpoint");
      expect(malformed.status).toBe(400);

      const removed = await api(admin, "DELETE", `/v1/ops/replicas/${created.body.id}`);
      expect(removed.status).toBe(200);
      expect(removed.body).toEqual({ id: created.body.id, branch_id: mainId(), deleted: true });
      const gone = await api(admin, "DELETE", `/v1/ops/replicas/${created.body.id}`);
      expect(gone.status).toBe(404);
      expect((await api(admin, "GET", "/v1/ops/replicas")).body.data).toEqual([]);
    },
    120_000,
  );

  it.skipIf(skip)(
    "deletes branches by name or id, children first, never main",
    async () => {
      for (const ref of ["main", mainId()]) {
        const res = await api(admin, "DELETE", `/v1/ops/branches/${ref}`);
        expect(res.status, ref).toBe(422);
        expect(res.body.error.message).toContain("default branch");
      }
      const parent = await api(admin, "DELETE", "/v1/ops/branches/staging");
      expect(parent.status).toBe(409);
      expect(parent.body.error.message).toContain("development");
      expect((await api(admin, "DELETE", "/v1/ops/branches/nope")).status).toBe(404);

      const feature = await api(admin, "DELETE", "/v1/ops/branches/feature%2Fx");
      expect(feature.status, JSON.stringify(feature.body)).toBe(200);
      expect(feature.body).toMatchObject({ name: "feature/x", deleted: true });
      const development = (await byName("development"))!;
      const byId = await api(admin, "DELETE", `/v1/ops/branches/${development.id}`);
      expect(byId.status).toBe(200);
      expect(byId.body).toEqual({ id: development.id, name: "development", deleted: true });
      expect((await api(admin, "DELETE", "/v1/ops/branches/staging")).status).toBe(200);
      expect((await branches()).map((b) => b.name)).toEqual(["main"]);
    },
    120_000,
  );

  it.skipIf(skip)(
    "lists backups with retention and restores main from one, keeping the old state under pre-restore/",
    async () => {
      await branchSql(mainId()).query(`INSERT INTO ${PROBE} VALUES ('backed-up')`);
      const newer = backupName(new Date(Date.now() - 60_000));
      const older = backupName(new Date(Date.now() - 2 * DAY));
      for (const n of [older, newer]) {
        await control.createBranch({ name: n, parentId: mainId(), endpoint: null });
      }
      // After the backups: lost by the restore, kept in the pre-restore branch.
      await branchSql(mainId()).query(`INSERT INTO ${PROBE} VALUES ('after-backup')`);

      const list = await api(admin, "GET", "/v1/ops/backups");
      expect(list.status).toBe(200);
      expect(list.body.retention).toEqual({ daily: 1, weekly: 0 });
      expect(list.body.data.map((b: Json) => [b.name, b.retention])).toEqual([
        [newer, "keep"],
        [older, "delete"],
      ]);
      expect(list.body.data[0]).toMatchObject({ id: expect.stringMatching(/^br-/), state: "ready" });
      expect(list.body.data[0].time.slice(0, 19)).toBe(
        `${newer.slice(7, 17)}T${newer.slice(18, 26).replace(/-/g, ":")}`,
      );

      const unknown = await api(admin, "POST", "/v1/ops/restore", { backup: "backup/2001-01-01T00-00-00Z" });
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.message).toContain("backup/2001-01-01T00-00-00Z");
      for (const body of [
        {},
        { backup: "staging" },
        { backup: newer, timestamp: new Date(Date.now() - 60_000).toISOString() },
        { timestamp: "yesterday" },
        { backup: newer, force: true },
      ]) {
        const res = await api(admin, "POST", "/v1/ops/restore", body);
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
      const future = await api(admin, "POST", "/v1/ops/restore", {
        timestamp: new Date(Date.now() + 3_600_000).toISOString(),
      });
      expect(future.status).toBe(422);
      expect(future.body.error.message).toContain("future");
      // The local Neon API keeps no history: Neon's own 400 comes back as a 422 naming the cause.
      const pitr = await api(admin, "POST", "/v1/ops/restore", {
        timestamp: new Date(Date.now() - 60_000).toISOString(),
      });
      expect(pitr.status).toBe(422);
      expect(pitr.body.error).toMatchObject({
        code: "unprocessable_entity",
        message: expect.stringContaining("point-in-time restore is not available"),
      });
      expect(await probes(mainId())).toEqual(["after-backup", "backed-up", "on-main"]);

      const key = { "idempotency-key": `restore-${name}-${Date.now()}` };
      const restored = await api(admin, "POST", "/v1/ops/restore", { backup: newer }, key);
      expect(restored.status, JSON.stringify(restored.body)).toBe(200);
      const backupId = list.body.data[0].id;
      expect(restored.body).toEqual({
        branch: { id: mainId(), name: "main" },
        source: { backup: { id: backupId, name: newer }, timestamp: null },
        preserved: {
          id: expect.stringMatching(/^br-/),
          name: expect.stringMatching(/^pre-restore\/\d{8}T\d{6}Z$/),
        },
      });
      expect(await probes(mainId())).toEqual(["backed-up", "on-main"]);

      // A retry with the same key replays the answer and restores nothing again.
      const replay = await api(admin, "POST", "/v1/ops/restore", { backup: newer }, key);
      expect(replay.status).toBe(200);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(replay.body).toEqual(restored.body);

      const all = await branches();
      const kept = all.filter((b) => b.name.startsWith("pre-restore/"));
      expect(kept).toEqual([
        expect.objectContaining({
          id: restored.body.preserved.id,
          name: restored.body.preserved.name,
          policy: null,
        }),
      ]);
      expect(all.find((b) => b.name === "main")).toMatchObject({ id: mainId(), default: true });
      // What main held before the restore is in the pre-restore branch.
      const endpoint = await control.createEndpoint(restored.body.preserved.id, "read_write", {});
      expect(await probes(restored.body.preserved.id, endpoint.id)).toEqual([
        "after-backup",
        "backed-up",
        "on-main",
      ]);

      // A protected branch is never deleted here; an old backup is, by its URL-encoded name.
      cloud.neonApi!.project.updateBranch(restored.body.preserved.id, { protected: true });
      const protectedOne = await api(
        admin,
        "DELETE",
        `/v1/ops/branches/${encodeURIComponent(restored.body.preserved.name)}`,
      );
      expect(protectedOne.status).toBe(422);
      expect(protectedOne.body.error.message).toContain("protected");
      const dropped = await api(admin, "DELETE", `/v1/ops/branches/${encodeURIComponent(older)}`);
      expect(dropped.status).toBe(200);
      expect((await api(admin, "GET", "/v1/ops/backups")).body.data.map((b: Json) => b.name)).toEqual([
        newer,
      ]);
    },
    180_000,
  );

  it.skipIf(skip)(
    "answers 403 to a fisioterapeuta or a paciente and 401 without a token, on every route",
    async () => {
      const before = (await branches()).length;
      for (const [method, path, body] of ROUTES) {
        for (const who of [fisio, paciente]) {
          const res = await api(who, method, path, body);
          expect(res.status, `${who.role} ${method} ${path}`).toBe(403);
          expect(res.body.error.code).toBe("forbidden");
        }
        const anonymous = await api(null, method, path, body);
        expect(anonymous.status, `${method} ${path}`).toBe(401);
      }
      expect(await branches()).toHaveLength(before);
    },
  );

  describe("in process, against the same local Neon API", () => {
    let lines: string[] = [];
    beforeAll(() => {
      for (const stream of ["log", "warn", "error", "info"] as const) {
        vi.spyOn(console, stream).mockImplementation((...args: unknown[]) => {
          lines.push(args.map(String).join(" "));
        });
      }
    });
    afterEach(() => {
      // Every log line of every case: no secret, whatever failed.
      for (const line of lines) for (const s of SECRETS) expect(line, line).not.toContain(s);
      lines = [];
    });
    afterAll(() => {
      vi.restoreAllMocks();
    });

    async function inProcess(method: string, path: string, env: Record<string, string>, body?: unknown) {
      const res = await requestApp(
        createApp(),
        path,
        {
          method,
          headers: {
            authorization: `Bearer ${await tokenFor(admin, IN_PROCESS_ENV.JWT_SECRET!)}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        },
        { LOG_LEVEL: "debug", ...env },
      );
      const json = (await res.json()) as Json;
      expectNoLeak(json, SECRETS);
      expect(res.headers.get("cache-control")).toBe("no-store");
      return { status: res.status, body: json, headers: res.headers };
    }
    const neonEnv = (over: Record<string, string> = {}) => ({
      NEON_API_URL: cloud.neonApi!.url,
      NEON_API_KEY: cloud.neonApi!.apiKey,
      NEON_PROJECT_ID: cloud.neonApi!.projectId,
      ...over,
    });

    it.skipIf(skip)(
      "Neon refusing a point-in-time restore: 422 with its reason, logged without secrets",
      async () => {
        const res = await inProcess("POST", "/v1/ops/restore", neonEnv(), {
          timestamp: new Date(Date.now() - 60_000).toISOString(),
        });
        expect(res.status).toBe(422);
        expect(res.body.error.message).toContain("point-in-time");
        const logged = lines.find((l) => l.includes("neon_api_failed"));
        expect(logged).toBeDefined();
        expect(JSON.parse(logged!)).toMatchObject({ level: "warn", status: 400, kind: "api" });
      },
    );

    it.skipIf(skip)("a key Neon refuses: 503 naming NEON_API_KEY, never the key", async () => {
      for (const [method, path, body] of ROUTES) {
        const res = await inProcess(method, path, neonEnv({ NEON_API_KEY: "not-the-key-0123456789" }), body);
        expect(res.status, `${method} ${path}`).toBe(503);
        expect(res.body.error.message).toContain("NEON_API_KEY");
        expect(res.headers.get("retry-after")).toBe("60");
        expectNoLeak(res.body, ["not-the-key-0123456789"]);
      }
      for (const line of lines) expect(line).not.toContain("not-the-key-0123456789");
    });

    it.skipIf(skip)("Neon unreachable: 503 with Retry-After", async () => {
      const res = await inProcess(
        "GET",
        "/v1/ops/branches",
        neonEnv({ NEON_API_URL: "http://127.0.0.1:9/api/v2" }),
      );
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({
        code: "service_unavailable",
        message: expect.stringContaining("reached"),
      });
      expect(res.headers.get("retry-after")).toBe("5");
    });

    it.skipIf(skip)("a project Neon does not know: 404 naming it", async () => {
      const res = await inProcess("GET", "/v1/ops/backups", neonEnv({ NEON_PROJECT_ID: "no-such-project" }));
      expect(res.status).toBe(404);
      expect(res.body.error.message).toContain("project");
    });
  });
});

describe("the Neon control-plane routes without NEON_API_KEY / NEON_PROJECT_ID", () => {
  it("answer 503 naming the settings on every route, after the role check", async () => {
    const app = createApp();
    const call = async (auth: Auth, method: string, path: string, body?: unknown) => {
      const res = await requestApp(app, path, {
        method,
        headers: {
          authorization: `Bearer ${await tokenFor(auth, IN_PROCESS_ENV.JWT_SECRET!)}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(res.headers.get("cache-control")).toBe("no-store");
      return { status: res.status, body: (await res.json()) as Json };
    };
    for (const [method, path, body] of ROUTES) {
      const res = await call(admin, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.body.error).toMatchObject({
        code: "service_unavailable",
        message: expect.stringContaining("NEON_API_KEY"),
      });
      expect((await call(fisio, method, path, body)).status).toBe(403);
    }
  });
});

describe("the Neon control-plane routes in the OpenAPI document", () => {
  it("documents every route: admin summary, no-store, its errors, the request bodies", async () => {
    const res = await requestApp(createApp(), "/openapi.json");
    const doc = (await res.json()) as Json;
    for (const [method, path] of ROUTES) {
      const documented = path
        .replace("feature%2Fx", "{ref}")
        .replace("ep-nothing-here-00000000", "{endpoint_id}");
      const op = doc.paths[documented]?.[method.toLowerCase()];
      expect(op, `${method} ${documented}`).toBeDefined();
      expect(op.summary).toContain("admin");
      expect(op.security).toEqual([{ bearerAuth: [] }]);
      const ok = op.responses["200"] ?? op.responses["201"];
      expect(ok.headers["Cache-Control"], `${method} ${documented}`).toBeDefined();
      for (const status of ["403", "503"])
        expect(op.responses[status], `${method} ${documented} ${status}`).toBeDefined();
    }
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas.NeonBranch.properties).sort()).toEqual(
      [
        "created_at",
        "default",
        "endpoint",
        "expires_at",
        "id",
        "name",
        "parent",
        "policy",
        "protected",
        "replicas",
        "state",
      ].sort(),
    );
    expect(Object.keys(schemas.RestoreRequest.properties).sort()).toEqual(["backup", "timestamp"]);
    expect(doc.paths["/v1/ops/restore"].post.description).toContain("Idempotency-Key");
    // No schema names a secret.
    expect(JSON.stringify(schemas)).not.toMatch(/password|connection_uri|connection_string/i);
  });
});
