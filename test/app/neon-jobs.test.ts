/**
 * The control-plane jobs against the local Neon API on both backends: `backups` (a branch per
 * slot, no compute, retention exactly as retention() says, duplicate and concurrent deliveries),
 * `neon-branches` (expired feature branches deleted, drifted endpoints put back on the policy,
 * unmanaged branches untouched) and `autoscale` (samples in analytics, every decision recorded,
 * the PATCH through the API; sustained load from synthetic samples and, on PostgreSQL, from real
 * concurrent sessions). Each job runs through `job.run(ctx)` with a clock the test moves.
 */
import { neon as neon_ } from "@neondatabase/serverless";
import { Client } from "@upstash/qstash";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoscale } from "../../jobs/autoscale";
import { backups } from "../../jobs/backups";
import { backupName, backupTime, type RetentionPolicy, retention } from "../../jobs/backups/retention";
import { type EndpointView, NeonControlPlane, NeonControlPlaneError } from "../../jobs/neon/api";
import { neonBranches } from "../../jobs/neon-branches";
import type { JobContext } from "../../jobs/types";
import { postgresAdminUrl, testBackends } from "../harness/backends";
import { type Cloud, startCloud } from "../harness/cloud";
import { type OwnerSessions, ownerSessions } from "../harness/db";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import { jobContext } from "../harness/job-context";
import { signQStash } from "../harness/qstash";

const backends = await testBackends();
const KEEP: RetentionPolicy = { daily: 3, weekly: 2 };

function context(over: Partial<JobContext> & { now: Date }): JobContext {
  return jobContext({
    settings: { backupKeepDaily: KEEP.daily, backupKeepWeekly: KEEP.weekly, featureBranchDays: 7 },
    ...over,
  });
}

describe.each(backends)("control-plane jobs on $name", ({ name, skip }) => {
  let t: TestEndpoint;
  let neon: NeonControlPlane;
  let owner: OwnerSessions;
  beforeAll(async () => {
    if (skip) return;
    t = await startTestEndpoint(name, { prefix: "neon_jobs", migrate: true, neonApi: true });
    const api = t.neonApi!;
    neon = new NeonControlPlane({
      apiKey: api.apiKey,
      projectId: api.projectId,
      baseUrl: api.url,
      wait: { pollIntervalMs: 50 },
    });
    owner = ownerSessions(t.ownerUrl);
  });
  afterAll(async () => {
    await owner?.end();
    await t?.close();
  });

  const mainId = () => t.neonApi!.mainBranchId;
  const mainEndpoint = async (): Promise<EndpointView> =>
    (await neon.listEndpoints(mainId())).find((e) => e.type === "read_write")!;
  const limitsOf = (e: EndpointView) => [
    e.autoscaling_limit_min_cu,
    e.autoscaling_limit_max_cu,
    e.suspend_timeout_seconds,
  ];
  const backupNames = async () =>
    (await neon.listBranches())
      .map((b) => b.name)
      .filter((n) => backupTime(n))
      .sort();

  describe("backups", () => {
    it.skipIf(skip)(
      "a backup per day with no compute; retention deletes exactly what retention() says",
      {
        timeout: 120_000,
      },
      async () => {
        let expected: string[] = [];
        const start = Date.parse("2030-01-01T03:00:00Z"); // a Tuesday
        for (let day = 0; day < 10; day++) {
          const at = new Date(start + day * 86_400_000);
          const r = await backups.run(context({ neon, now: new Date(at.getTime() + 120_000) }), {
            at: at.toISOString(),
          });
          const plan = retention([...expected, backupName(at)], KEEP);
          expect(r, `day ${day}`).toMatchObject({
            status: "done",
            backup: backupName(at),
            created: 1,
            kept: plan.keep.length,
            deleted: plan.delete.length,
            failed: [],
          });
          expected = plan.keep;
          expect(await backupNames(), `day ${day}`).toEqual([...expected].sort());
        }
        // 3 newest days + the newest of 2 ISO weeks (Mon 2030-01-07 starts the second): Jan 10, 9, 8
        // and Jan 6 (the newest of the first week).
        expect(expected).toEqual([
          "backup/2030-01-10T03-00-00Z",
          "backup/2030-01-09T03-00-00Z",
          "backup/2030-01-08T03-00-00Z",
          "backup/2030-01-06T03-00-00Z",
        ]);
        const branches = await neon.listBranches();
        for (const b of branches.filter((x) => backupTime(x.name))) {
          expect(b.parentId).toBe(mainId());
          expect(await neon.listEndpoints(b.id)).toEqual([]);
        }
      },
    );

    it.skipIf(skip)(
      "the same slot twice, or twice at once, makes one branch",
      { timeout: 60_000 },
      async () => {
        const before = await backupNames();
        const at = "2030-01-10T03:00:00.000Z"; // already there
        const again = await backups.run(context({ neon, now: new Date("2030-01-10T05:00:00Z") }), { at });
        expect(again).toMatchObject({ status: "skipped", created: 0, deleted: 0 });
        expect(await backupNames()).toEqual(before);

        // Scheduled deliveries carry no `at`: a retry an hour later maps to the same 03:00 slot.
        const first = await backups.run(context({ neon, now: new Date("2030-01-11T03:00:02Z") }), {});
        expect(first).toMatchObject({ status: "done", backup: "backup/2030-01-11T03-00-00Z", created: 1 });
        const retry = await backups.run(context({ neon, now: new Date("2030-01-11T04:10:00Z") }), {});
        expect(retry).toMatchObject({ status: "skipped", backup: "backup/2030-01-11T03-00-00Z", created: 0 });

        // Two deliveries of a new slot at once: one creates, the other finds it (or gets 409).
        const now = new Date("2030-01-12T03:00:05Z");
        const both = await Promise.all([
          backups.run(context({ neon, now }), {}),
          backups.run(context({ neon, now }), {}),
        ]);
        expect(both.map((r) => r.created).sort()).toEqual([0, 1]);
        const names = await backupNames();
        expect(names.filter((n) => n === "backup/2030-01-12T03-00-00Z")).toHaveLength(1);
        expect(names).toEqual([...retention(names, KEEP).keep].sort());
      },
    );

    it.skipIf(skip)("refuses a slot to come and skips without the Neon API", async () => {
      await expect(
        backups.run(context({ neon, now: new Date("2030-01-12T04:00:00Z") }), { at: "2030-02-01T03:00:00Z" }),
      ).rejects.toThrow(/time to come/);
      expect(await backups.run(context({ neon: null, now: new Date() }), {})).toMatchObject({
        status: "skipped",
      });
    });
  });

  describe("neon-branches upkeep", () => {
    it.skipIf(skip)(
      "deletes expired feature branches, puts drifted endpoints back on the policy, touches nothing else",
      {
        timeout: 90_000,
      },
      async () => {
        const now = new Date();
        const drifted = {
          autoscaling_limit_min_cu: 0.25,
          autoscaling_limit_max_cu: 0.25,
          suspend_timeout_seconds: 0,
        };
        const feature = await neon.createBranch({
          name: "feature/login",
          parentId: mainId(),
          endpoint: drifted,
        });
        const short = await neon.createBranch({
          name: "feature/short",
          parentId: mainId(),
          endpoint: null,
          expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
        });
        const staging = await neon.createBranch({ name: "staging", parentId: mainId(), endpoint: drifted });
        const scratch = await neon.createBranch({ name: "scratch", parentId: mainId(), endpoint: drifted });
        // The local main endpoint starts at 0.25–2 CU, 0 s; the policy says 2–4 CU, 300 s.
        expect(limitsOf(await mainEndpoint())).toEqual([0.25, 2, 0]);

        // Now: nothing has expired; every managed read_write endpoint is put back on its policy.
        const first = await neonBranches.run(context({ neon, now }), {});
        expect(first).toMatchObject({ status: "done", deleted: [], failed: [] });
        const updated = (first.updated as { branch: string }[]).map((u) => u.branch).sort();
        expect(updated).toEqual(["feature/login", "main", "staging"]);
        // main: min and suspend timeout pinned; its max (2, inside 2–4) is the autoscaler's to move.
        expect(limitsOf(await mainEndpoint())).toEqual([2, 2, 300]);
        const limits = async (branchId: string) => limitsOf((await neon.listEndpoints(branchId))[0]!);
        expect(await limits(staging.id)).toEqual([1, 2, 60]);
        expect(await limits(feature.id)).toEqual([0.25, 0.25, 30]);
        expect(await limits(scratch.id)).toEqual([0.25, 0.25, 0]); // not the policy's: left alone

        // Idempotent: the same run again finds nothing to do.
        expect(await neonBranches.run(context({ neon, now }), {})).toMatchObject({
          status: "skipped",
          deleted: [],
          updated: [],
        });

        // Two hours on: the branch with its own expires_at is gone, the 7-day one is not.
        const later = await neonBranches.run(
          context({ neon, now: new Date(now.getTime() + 2 * 3_600_000) }),
          {},
        );
        expect(later).toMatchObject({
          status: "done",
          deleted: [{ id: short.id, name: "feature/short", reason: "expires_at" }],
          updated: [],
        });

        // Eight days on: the feature branch has outlived the policy's 7 days and goes too.
        const week = await neonBranches.run(
          context({ neon, now: new Date(now.getTime() + 8 * 86_400_000) }),
          {},
        );
        expect(week).toMatchObject({
          status: "done",
          deleted: [{ id: feature.id, name: "feature/login", reason: "policy" }],
        });
        const names = (await neon.listBranches()).map((b) => b.name);
        expect(names).not.toContain("feature/login");
        expect(names).not.toContain("feature/short");
        expect(names).toEqual(expect.arrayContaining(["main", "staging", "scratch"]));
        expect(names.filter((n) => n.startsWith("backup/")).length).toBeGreaterThan(0);
        expect(await limits(scratch.id)).toEqual([0.25, 0.25, 0]);

        expect(await neonBranches.run(context({ neon: null, now }), {})).toMatchObject({ status: "skipped" });
        // Branches of this test go, so the autoscale tests below see only main's endpoint change.
        for (const b of [staging, scratch]) await neon.deleteBranch(b.id);
      },
    );
  });

  describe("autoscale", () => {
    const T = Date.parse("2031-03-03T10:00:00Z");
    const minute = (m: number) => new Date(T + m * 60_000);
    const run = (m: number, cp: NeonControlPlane = neon, seconds = 7) =>
      autoscale.run(
        context({ neon: cp, ownerUrl: t.ownerUrl, now: new Date(minute(m).getTime() + seconds * 1000) }),
        {},
      );
    const decisions = async () =>
      (
        await owner.withOwner((c) =>
          c.query(
            `SELECT minuto, acao, min_cu_antes, max_cu_antes, min_cu_depois, max_cu_depois, motivo, amostras,
                    aplicada, erro
               FROM analytics.autoscale_decisoes ORDER BY minuto`,
          ),
        )
      ).rows;
    const decisionAt = async (m: number) =>
      (await decisions()).find((d) => new Date(d.minuto).getTime() === minute(m).getTime());
    /** Samples as if the job had measured them, for the minutes given. */
    const seed = (minutes: number[], utilization: number, vcpus: number) =>
      owner.withOwner(async (c) => {
        const endpointId = (await mainEndpoint()).id;
        for (const m of minutes)
          await c.query(
            `INSERT INTO analytics.autoscale_amostras (endpoint_id, minuto, sessoes_ativas, vcpus, utilizacao)
             VALUES ($1, $2, $3, $4, $5)`,
            [endpointId, minute(m), Math.round(utilization * vcpus), vcpus, utilization],
          );
      });
    const patches = () =>
      t.neonApi!.project.listOperations().filter((o) => o.action === "apply_config").length;

    it.skipIf(skip)("skips without the Neon API or the owner's URL", async () => {
      expect(
        await autoscale.run(context({ neon: null, ownerUrl: t.ownerUrl, now: new Date() }), {}),
      ).toMatchObject({
        status: "skipped",
      });
      expect(await autoscale.run(context({ neon, now: new Date() }), {})).toMatchObject({
        status: "skipped",
      });
    });

    it.skipIf(skip)(
      "records a decision per minute; a duplicate delivery of the minute changes nothing",
      async () => {
        // The upkeep above left main at 2–2 CU: inside the policy (2–4), so only a trend moves it.
        await neon.updateEndpoint((await mainEndpoint()).id, {
          autoscaling_limit_min_cu: 2,
          autoscaling_limit_max_cu: 2,
        });
        const before = patches();
        const r = await run(0);
        expect(r).toMatchObject({ status: "done", action: "hold", applied: false, samples: 1 });
        expect(r.reason).toMatch(/Only 1 sample\(s\), need 3/);
        const again = await run(0, neon, 40);
        expect(again).toMatchObject({ status: "skipped", reason: "this minute was already decided" });
        expect(patches()).toBe(before);
        expect(await decisions()).toEqual([
          {
            minuto: minute(0),
            acao: "hold",
            min_cu_antes: 2,
            max_cu_antes: 2,
            min_cu_depois: 2,
            max_cu_depois: 2,
            motivo: r.reason,
            amostras: 1,
            aplicada: false,
            erro: null,
          },
        ]);
        const samples = await owner.withOwner((c) =>
          c.query("SELECT minuto, vcpus, utilizacao FROM analytics.autoscale_amostras"),
        );
        expect(samples.rows).toEqual([{ minuto: minute(0), vcpus: 2, utilizacao: 0 }]);
      },
    );

    it.skipIf(skip)("sustained load raises the max limit through the API, then cools down", async () => {
      // Minutes 1–3 above 75% of 2 vCPUs; the job's own sample of minute 3 is the seeded one.
      await seed([1, 2, 3], 0.9, 2);
      const r = await run(3);
      expect(r).toMatchObject({
        status: "done",
        action: "scale_up",
        applied: true,
        error: null,
        samples: 4,
        limits: { autoscaling_limit_min_cu: 2, autoscaling_limit_max_cu: 3 },
      });
      expect(limitsOf(await mainEndpoint()).slice(0, 2)).toEqual([2, 3]);
      expect(await decisionAt(3)).toMatchObject({
        acao: "scale_up",
        max_cu_antes: 2,
        max_cu_depois: 3,
        aplicada: true,
        amostras: 4,
        motivo: expect.stringMatching(/Last 3 sample\(s\) above 75%, raising max from 2 to 3 CU/),
      });

      // Still loaded a minute later: the cooldown holds, and no PATCH is sent.
      await seed([4], 0.95, 3);
      const before = patches();
      const held = await run(4);
      expect(held).toMatchObject({ action: "hold", applied: false });
      expect(held.reason).toMatch(/cooldown has \d+ s of 600 s remaining/);
      expect(patches()).toBe(before);
      expect(limitsOf(await mainEndpoint()).slice(0, 2)).toEqual([2, 3]);
    });

    it.skipIf(skip)("a failed PATCH is recorded; the redelivery sends the same change", async () => {
      // Idle for three minutes well after the cooldown: scale down one step.
      await seed([20, 21, 22], 0.05, 3);
      const failing = Object.create(neon) as NeonControlPlane;
      failing.updateEndpoint = () =>
        Promise.reject(new NeonControlPlaneError("updating endpoint: service unavailable", 503, "api"));
      await expect(run(22, failing)).rejects.toThrow(/service unavailable/);
      expect(await decisionAt(22)).toMatchObject({
        acao: "scale_down",
        max_cu_antes: 3,
        max_cu_depois: 2,
        aplicada: false,
        erro: expect.stringMatching(/service unavailable/),
      });
      expect(limitsOf(await mainEndpoint()).slice(0, 2)).toEqual([2, 3]);

      const redelivered = await run(22, neon, 50);
      expect(redelivered).toMatchObject({ status: "done", action: "scale_down", applied: true, error: null });
      expect(await decisionAt(22)).toMatchObject({ aplicada: true, erro: null });
      expect(limitsOf(await mainEndpoint()).slice(0, 2)).toEqual([2, 2]);
    });

    // PostgreSQL only (defined, not skipped, on PGlite): PGlite has one session, so concurrent
    // active sessions cannot exist there.
    if (name === "postgres")
      it.skipIf(skip)(
        "real concurrent sessions are measured as load and raise the limit",
        { timeout: 60_000 },
        async () => {
          const url = new URL(postgresAdminUrl());
          url.pathname = `/${t.database}`;
          const sleepers = await Promise.all(
            [0, 1, 2].map(async () => {
              const c = new pg.Client({ connectionString: url.toString() });
              await c.connect();
              return c;
            }),
          );
          const admin = new pg.Client({ connectionString: url.toString() });
          await admin.connect();
          try {
            const pids = sleepers.map((c) => (c as unknown as { processID: number }).processID);
            const sleeping = sleepers.map((c) => c.query("SELECT pg_sleep(60)").catch(() => {}));
            // Wait until all three are active.
            for (let i = 0; i < 100; i++) {
              const r = await admin.query(
                "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'active'",
                [pids],
              );
              if (r.rows[0].n === 3) break;
              await new Promise((r) => setTimeout(r, 50));
            }
            // 3 active sessions on 2 vCPUs, three minutes running (after minute 22's change cooled down).
            const results = [];
            for (const m of [40, 41, 42]) results.push(await run(m));
            expect(results.map((r) => r.action)).toEqual(["hold", "hold", "scale_up"]);
            expect(results[2]).toMatchObject({
              applied: true,
              limits: { autoscaling_limit_min_cu: 2, autoscaling_limit_max_cu: 3 },
            });
            const samples = await owner.withOwner((c) =>
              c.query(
                "SELECT sessoes_ativas, vcpus, utilizacao FROM analytics.autoscale_amostras WHERE minuto >= $1 ORDER BY minuto",
                [minute(40)],
              ),
            );
            expect(samples.rows).toEqual([
              { sessoes_ativas: 3, vcpus: 2, utilizacao: 1.5 },
              { sessoes_ativas: 3, vcpus: 2, utilizacao: 1.5 },
              { sessoes_ativas: 3, vcpus: 2, utilizacao: 1.5 },
            ]);
            expect(limitsOf(await mainEndpoint()).slice(0, 2)).toEqual([2, 3]);
            await admin.query("SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) pid", [pids]);
            await Promise.all(sleeping);
          } finally {
            await Promise.all([...sleepers, admin].map((c) => c.end().catch(() => {})));
          }
        },
      );

    it.skipIf(skip)("the app role can neither read nor write the autoscale tables", async () => {
      const app = neon_(t.appUrl);
      for (const q of [
        "SELECT count(*) FROM analytics.autoscale_amostras",
        "SELECT count(*) FROM analytics.autoscale_decisoes",
        "DELETE FROM analytics.autoscale_decisoes",
      ]) {
        const err = await app.query(q).catch((e: { code?: string }) => e);
        expect((err as { code?: string }).code, q).toBe("42501");
      }
    });

    it.skipIf(skip)("purges samples older than 7 days", async () => {
      await seed([-8 * 24 * 60], 0.5, 2);
      await run(60);
      const old = await owner.withOwner((c) =>
        c.query("SELECT count(*)::int AS n FROM analytics.autoscale_amostras WHERE minuto < $1", [
          minute(-7 * 24 * 60),
        ]),
      );
      expect(old.rows[0].n).toBe(0);
    });
  });
});

const pglite = backends.find((b) => b.name === "pglite")!;

describe.skipIf(pglite.skip)("control-plane jobs delivered by QStash to the worker (workerd)", () => {
  let cloud: Cloud;
  let neon: NeonControlPlane;
  beforeAll(async () => {
    cloud = await startCloud({ backend: "pglite", neonApi: true });
    const api = cloud.neonApi!;
    neon = new NeonControlPlane({ apiKey: api.apiKey, projectId: api.projectId, baseUrl: api.url });
  });
  afterAll(async () => {
    await cloud?.close();
  });
  const jobUrl = (job: string) => `${cloud.workerUrl}/jobs/${job}`;

  it("a published backups message creates its branch once, however often it is delivered", {
    timeout: 60_000,
  }, async () => {
    const client = new Client({ baseUrl: cloud.qstash.url, token: cloud.qstash.token });
    // Yesterday's 03:00 UTC: the worker's clock is the real one, and a slot to come is refused.
    const at = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000 + 3 * 3_600_000);
    const body = { at: at.toISOString() };
    await client.publishJSON({ url: jobUrl("backups"), body });
    await client.publishJSON({ url: jobUrl("backups"), body }); // another message, same slot
    await cloud.qstash.idle(40_000);
    const made = (await neon.listBranches()).filter((b) => b.name === backupName(at));
    expect(made).toHaveLength(1);
    expect(await neon.listEndpoints(made[0]!.id)).toEqual([]);
  });

  it("the autoscale job samples through the worker's WebSocket Pool and records its decision", {
    timeout: 30_000,
  }, async () => {
    const call = async () => {
      const res = await fetch(jobUrl("autoscale"), {
        method: "POST",
        body: "{}",
        headers: {
          "upstash-signature": await signQStash(cloud.qstash.currentSigningKey, jobUrl("autoscale"), "{}"),
          "upstash-message-id": `msg_autoscale_${crypto.randomUUID()}`,
        },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    // The local main endpoint (0.25–2 CU) is outside the policy (2–4): the first run clamps it.
    const first = await call();
    expect(first).toMatchObject({
      status: "done",
      action: "scale_up",
      applied: true,
      limits: { autoscaling_limit_min_cu: 2, autoscaling_limit_max_cu: 2 },
    });
    const main = (await neon.listEndpoints(cloud.neonApi!.mainBranchId))[0]!;
    expect([main.autoscaling_limit_min_cu, main.autoscaling_limit_max_cu]).toEqual([2, 2]);
    const rows = await cloud.system((c) =>
      c.query("SELECT acao, aplicada, amostras FROM analytics.autoscale_decisoes ORDER BY id"),
    );
    expect(rows.rows[0]).toEqual({ acao: "scale_up", aplicada: true, amostras: 1 });
  });
});
