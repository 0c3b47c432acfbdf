/**
 * The alert engine with the app in process, on both database backends:
 * - /v1/ops/alerts CRUD: admins 2xx (ETag, If-Match, Location, no-store), other roles 403 (and
 *   the database refuses them too: forced RLS), bad input 400, unknown ids 404, names 409;
 * - end to end: a rule fires and its webhook (a local HTTP server) receives exactly one
 *   notification through the local QStash — not again while it keeps firing within the repeat
 *   interval, nor on a duplicate job delivery, nor when the outbox row is published again after a
 *   "crash" (same deduplication id) — and exactly one more on resolve.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { neon } from "@neondatabase/serverless";
import { Client, Receiver } from "@upstash/qstash";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgError } from "../../db/errors";
import { type Auth, withAuth } from "../../db/session";
import { type QStashEmulator, startQStash } from "../../dev/qstash";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { createApp } from "../../functions/app";
import { insecureWebhooks } from "../../functions/v1/ops/alerts-schema";
import { alerts } from "../../jobs/alerts";
import type { JobContext, JobPublisher } from "../../jobs/types";
import { IN_PROCESS_ENV, requestApp, type ServedApp, serveApp, upstashVars } from "../harness/app";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { type OwnerSessions, ownerSessions, TEST_SIGNER } from "../harness/db";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import type { Json } from "../harness/http";
import { signQStash } from "../harness/qstash";

const backends = await testBackends();
const admin: Auth = { userId: crypto.randomUUID(), role: "admin" };
const fisio: Auth = { userId: crypto.randomUUID(), role: "fisioterapeuta" };
const paciente: Auth = { userId: crypto.randomUUID(), role: "paciente" };
const DEFAULT_RULES = [
  "api-error-rate-high",
  "api-latency-p95-high",
  "db-cache-hit-ratio-low",
  "db-connections-high",
  "migration-sync-lag-high",
  "replica-lag-high",
];

interface Delivery {
  body: Json;
  headers: Record<string, string | string[] | undefined>;
}

/** A webhook receiver: records every POST, answers 200. */
async function startWebhook(): Promise<{ url: string; received: Delivery[]; close(): Promise<void> }> {
  const received: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      received.push({ body: JSON.parse(text || "null"), headers: req.headers });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("webhook URLs by environment", () => {
  it("plain http is refused in staging and production only", () => {
    const urls = ["https://a.example/x", "http://b.example/y"];
    expect(insecureWebhooks("production", urls)).toEqual([1]);
    expect(insecureWebhooks("staging", urls)).toEqual([1]);
    expect(insecureWebhooks("development", urls)).toEqual([]);
    expect(insecureWebhooks("test", urls)).toEqual([]);
  });
});

describe.each(backends)("alert engine on $name", ({ name, skip }) => {
  let t: TestEndpoint;
  let redis: UpstashRedisEmulator;
  let qstash: QStashEmulator;
  let served: ServedApp;
  let owner: OwnerSessions;
  let hook: Awaited<ReturnType<typeof startWebhook>>;
  let env: Record<string, string>;
  const app = createApp();

  beforeAll(async () => {
    if (skip) return;
    t = await startTestEndpoint(name, { prefix: "alerts", migrate: true });
    redis = await startUpstashRedis({ port: 0 });
    qstash = await startQStash({ port: 0, retryBaseDelayMs: 20 });
    hook = await startWebhook();
    env = {
      ...upstashVars(redis, qstash),
      DATABASE_URL: t.appUrl,
      DATABASE_OWNER_URL: t.ownerUrl,
      NEON_FETCH_ENDPOINT: t.endpoint.sqlUrl,
      NEON_WS_PROXY: t.endpoint.wsProxy,
    };
    served = await serveApp(env);
    owner = ownerSessions(t.ownerUrl);
  });
  afterAll(async () => {
    await served?.close();
    await qstash?.close();
    await redis?.close();
    await hook?.close();
    await owner?.end();
    await t?.close();
  });

  /** One call to the app in process as `auth`: status, headers and JSON body. */
  async function api(auth: Auth | null, method: string, path: string, body?: unknown, headers = {}) {
    const res = await requestApp(
      app,
      path,
      {
        method,
        headers: {
          ...(auth ? { authorization: `Bearer ${await tokenFor(auth, IN_PROCESS_ENV.JWT_SECRET!)}` } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
      env,
    );
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Json) : null };
  }

  const rule = (over: Record<string, unknown> = {}) => ({
    name: `rule-${crypto.randomUUID().slice(0, 8)}`,
    metric: "test_queue_depth",
    operator: ">",
    threshold: 10,
    ...over,
  });

  describe("CRUD", () => {
    it.skipIf(skip)("lists the default rules (no webhooks, inactive), never cached", async () => {
      const res = await api(admin, "GET", "/v1/ops/alerts");
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const defaults = res.body.data.filter((r: Json) => DEFAULT_RULES.includes(r.name));
      expect(defaults.map((r: Json) => r.name)).toEqual(DEFAULT_RULES);
      for (const r of defaults) {
        expect(r).toMatchObject({
          webhooks: [],
          enabled: true,
          state: "inactive",
          since: null,
          instances: [],
        });
        expect(r.for_seconds).toBeGreaterThan(0);
      }
      expect(defaults.find((r: Json) => r.name === "db-connections-high")).toMatchObject({
        metric: "db_connections_ratio",
        operator: ">",
        threshold: 0.8,
      });
      expect(defaults.find((r: Json) => r.name === "db-cache-hit-ratio-low")).toMatchObject({
        operator: "<",
        threshold: 0.99,
      });
    });

    it.skipIf(skip)("create, read (ETag, 304), update with If-Match (412 when stale), delete", async () => {
      const input = rule({
        for_seconds: 120,
        severity: "critical",
        repeat_seconds: 600,
        match: { queue: "a" },
        labels: { team: "ops", runbook: "https://wiki.example/queue" },
        webhooks: ["http://127.0.0.1:9/hook", "https://hooks.example.com/x"],
      });
      const created = await api(admin, "POST", "/v1/ops/alerts", input);
      expect(created.status).toBe(201);
      expect(created.headers.get("cache-control")).toBe("no-store");
      const id = created.body.id;
      expect(created.headers.get("location")).toBe(`/v1/ops/alerts/${id}`);
      expect(created.body).toMatchObject({ ...input, enabled: true, state: "inactive", instances: [] });
      const etag = created.headers.get("etag")!;
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);

      const read = await api(admin, "GET", `/v1/ops/alerts/${id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(created.body);
      expect(read.headers.get("etag")).toBe(etag);
      expect(
        (await api(admin, "GET", `/v1/ops/alerts/${id}`, undefined, { "if-none-match": etag })).status,
      ).toBe(304);

      const changed = await api(
        admin,
        "PATCH",
        `/v1/ops/alerts/${id}`,
        { threshold: 20.5, enabled: false },
        {
          "if-match": etag,
        },
      );
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({
        threshold: 20.5,
        enabled: false,
        name: input.name,
        match: { queue: "a" },
      });
      expect(changed.headers.get("etag")).not.toBe(etag);
      const stale = await api(admin, "PATCH", `/v1/ops/alerts/${id}`, { threshold: 1 }, { "if-match": etag });
      expect(stale.status).toBe(412);
      expect(stale.body.error.code).toBe("precondition_failed");
      const noMatch = await api(admin, "PATCH", `/v1/ops/alerts/${id}`, { severity: "info" });
      expect(noMatch.status).toBe(200);
      expect(noMatch.body.threshold).toBe(20.5);

      const deleted = await api(admin, "DELETE", `/v1/ops/alerts/${id}`);
      expect(deleted.status).toBe(204);
      for (const [method, body] of [
        ["GET", undefined],
        ["PATCH", { threshold: 2 }],
        ["DELETE", undefined],
      ] as const) {
        const gone = await api(admin, method, `/v1/ops/alerts/${id}`, body);
        expect(gone.status, method).toBe(404);
        expect(gone.body.error.code).toBe("not_found");
      }
    });

    it.skipIf(skip)("a name in use answers 409, on create and on rename", async () => {
      const a = await api(admin, "POST", "/v1/ops/alerts", rule());
      const b = await api(admin, "POST", "/v1/ops/alerts", rule());
      expect([a.status, b.status]).toEqual([201, 201]);
      const dup = await api(admin, "POST", "/v1/ops/alerts", rule({ name: a.body.name }));
      expect(dup.status).toBe(409);
      expect(dup.body.error).toMatchObject({ code: "conflict", details: { field: "name" } });
      const rename = await api(admin, "PATCH", `/v1/ops/alerts/${b.body.id}`, { name: a.body.name });
      expect(rename.status).toBe(409);
      expect(rename.body.error).toMatchObject({ code: "conflict", details: { field: "name" } });
    });

    it.skipIf(skip)("bad input answers 400 naming the field", async () => {
      const bad: [string, Record<string, unknown>][] = [
        ["operator", rule({ operator: "=" })],
        ["operator", rule({ operator: "==" })],
        ["threshold", rule({ threshold: "10" })],
        ["threshold", rule({ threshold: null })],
        ["for_seconds", rule({ for_seconds: -1 })],
        ["for_seconds", rule({ for_seconds: 1.5 })],
        ["repeat_seconds", rule({ repeat_seconds: 10 })],
        ["severity", rule({ severity: "fatal" })],
        ["metric", rule({ metric: "Bad-Name" })],
        ["name", rule({ name: "   " })],
        ["webhooks.0", rule({ webhooks: ["ftp://x.example/y"] })],
        ["webhooks.0", rule({ webhooks: ["not a url"] })],
        ["webhooks.0", rule({ webhooks: ["https://user:secret@x.example/y"] })],
        ["webhooks", rule({ webhooks: ["https://x.example/y", "https://x.example/y"] })],
        ["labels.1x", rule({ labels: { "1x": "y" } })],
        ["match.queue", rule({ match: { queue: "" } })],
        ["", rule({ extra: true })], // unrecognized keys: the object itself
      ];
      for (const [field, body] of bad) {
        const res = await api(admin, "POST", "/v1/ops/alerts", body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe("bad_request");
        expect(
          res.body.error.details.map((d: Json) => d.path),
          field,
        ).toContain(field);
      }
      const { body: one } = await api(admin, "POST", "/v1/ops/alerts", rule());
      for (const patch of [{}, { operator: "!=" }, { threshold: "x" }, { id: crypto.randomUUID() }]) {
        const res = await api(admin, "PATCH", `/v1/ops/alerts/${one.id}`, patch);
        expect(res.status, JSON.stringify(patch)).toBe(400);
      }
      expect((await api(admin, "GET", "/v1/ops/alerts/not-a-uuid")).status).toBe(400);
      expect((await api(admin, "GET", "/v1/ops/alerts?state=burning")).status).toBe(400);
      expect((await api(admin, "GET", "/v1/ops/alerts/history?cursor=garbage")).status).toBe(400);
      expect((await api(admin, "GET", "/v1/ops/alerts/history?limit=0")).status).toBe(400);
    });

    it.skipIf(skip)("any other role gets 403 on every route, never cached; no token 401", async () => {
      const { body: one } = await api(admin, "POST", "/v1/ops/alerts", rule());
      const routes: [string, string, unknown?][] = [
        ["GET", "/v1/ops/alerts"],
        ["GET", "/v1/ops/alerts?state=firing"],
        ["GET", "/v1/ops/alerts/history"],
        ["GET", `/v1/ops/alerts/${one.id}`],
        ["POST", "/v1/ops/alerts", rule()],
        ["PATCH", `/v1/ops/alerts/${one.id}`, { threshold: 1 }],
        ["DELETE", `/v1/ops/alerts/${one.id}`],
      ];
      for (const who of [fisio, paciente]) {
        for (const [method, path, body] of routes) {
          const res = await api(who, method, path, body);
          expect(res.status, `${who.role} ${method} ${path}`).toBe(403);
          expect(res.body.error.code).toBe("forbidden");
          expect(res.headers.get("cache-control")).toBe("no-store");
        }
      }
      expect((await api(null, "GET", "/v1/ops/alerts")).status).toBe(401);
      expect((await api(admin, "GET", `/v1/ops/alerts/${one.id}`)).body.threshold).toBe(10);
    });

    it.skipIf(skip)(
      "the database is the guarantee: RLS shows and lets change the rules to admins only",
      async () => {
        const sql = neon(t.appUrl);
        for (const who of [fisio, paciente]) {
          const [rules, history] = (await withAuth(sql, { auth: who, signer: TEST_SIGNER }, (q) => [
            q.query("SELECT count(*)::int AS n FROM analytics.alertas_regras"),
            q.query("SELECT count(*)::int AS n FROM analytics.alertas_historico"),
          ])) as { n: number }[][];
          expect([rules![0]!.n, history![0]!.n], who.role).toEqual([0, 0]);
          const insert = await withAuth(sql, { auth: who, signer: TEST_SIGNER }, (q) => [
            q.query(
              "INSERT INTO analytics.alertas_regras (nome, metrica, operador, limiar) VALUES ('x', 'm', '>', 1)",
            ),
          ]).catch((e: unknown) => e);
          expect(pgError(insert)?.code, who.role).toBe("42501");
        }
        // Admins cannot write what the job keeps, nor the rule's id or timestamps.
        for (const stmt of [
          "INSERT INTO analytics.alertas_historico (regra_id, regra_nome, metrica, rotulos, de, para, em, operador, limiar, severidade) VALUES (gen_random_uuid(), 'x', 'm', '{}', 'inactive', 'firing', now(), '>', 1, 'info')",
          "UPDATE analytics.alertas_regras SET created_at = now()",
          "DELETE FROM analytics.alertas_notificacoes",
        ]) {
          const refused = await withAuth(sql, { auth: admin, signer: TEST_SIGNER }, (q) => [
            q.query(stmt),
          ]).catch((e: unknown) => e);
          expect(pgError(refused)?.code, stmt).toBe("42501");
        }
      },
    );
  });

  describe("end to end through QStash", () => {
    /** Metric samples as the metrics-poll job writes them (the owner). */
    const sample = (at: number, value: number, labels: Record<string, string>) =>
      owner.withOwner((c) =>
        c.query(
          "INSERT INTO analytics.metricas (metrica, rotulos, em, valor) VALUES ('e2e_queue_depth', $1, $2, $3)",
          [JSON.stringify(labels), new Date(at), value],
        ),
      );
    const jobUrl = () => `${served.url}/jobs/alerts`;
    /** One scheduled-like run: QStash delivers the job, and whatever it publishes, before idle. */
    const runThroughQStash = async () => {
      const client = new Client({ baseUrl: qstash.url, token: qstash.token });
      const { messageId } = await client.publishJSON({ url: jobUrl(), body: {} });
      await qstash.idle(30_000);
      return messageId;
    };
    /** A delivery of the job as QStash signs it, with a chosen message id; its JSON answer. */
    const deliverJob = async (messageId: string) => {
      const res = await fetch(jobUrl(), {
        method: "POST",
        body: "{}",
        headers: {
          "content-type": "application/json",
          "upstash-signature": await signQStash(qstash.currentSigningKey, jobUrl(), "{}"),
          "upstash-message-id": messageId,
        },
      });
      expect(res.status).toBe(200);
      const out = (await res.json()) as Json;
      await qstash.idle(30_000);
      return out;
    };

    it.skipIf(skip)(
      "a rule fires: one notification; none while it keeps firing or on duplicates; one on resolve",
      { timeout: 90_000 },
      async () => {
        const created = await api(admin, "POST", "/v1/ops/alerts", {
          name: "e2e-queue-depth",
          metric: "e2e_queue_depth",
          operator: ">",
          threshold: 10,
          for_seconds: 60,
          severity: "critical",
          repeat_seconds: 3600,
          match: { queue: "a" },
          labels: { team: "ops" },
          webhooks: [hook.url],
        });
        expect(created.status).toBe(201);
        const id = created.body.id;
        // Sample times in the recent past, whole seconds, a minute apart as the poll writes them.
        const t0 = Math.floor((Date.now() - 150_000) / 1000) * 1000;
        const iso = (ms: number) => new Date(ms).toISOString();

        // Over the threshold: pending (for 60 s). Queue b is over too, but the rule matches queue a.
        await sample(t0, 50, { queue: "a" });
        await sample(t0, 99, { queue: "b" });
        await runThroughQStash();
        expect(hook.received).toHaveLength(0);
        const state = await api(admin, "GET", `/v1/ops/alerts/${id}`);
        expect(state.body).toMatchObject({ state: "pending", since: iso(t0), value: 50 });
        expect(state.body.instances).toEqual([
          { instance: { queue: "a" }, state: "pending", since: iso(t0), value: 50, sample_at: iso(t0) },
        ]);

        // Held for 60 s: firing, and the webhook gets exactly one notification, signed by QStash.
        await sample(t0 + 60_000, 60, { queue: "a" });
        const firingRun = await runThroughQStash();
        expect(hook.received).toHaveLength(1);
        const [fired] = hook.received;
        expect(fired!.body).toEqual({
          id: expect.stringMatching(/^alert-/),
          status: "firing",
          repeat: false,
          rule_id: id,
          rule_name: "e2e-queue-depth",
          metric: "e2e_queue_depth",
          operator: ">",
          threshold: 10,
          value: 60,
          severity: "critical",
          labels: { queue: "a", team: "ops" },
          instance: { queue: "a" },
          since: iso(t0 + 60_000),
          at: iso(t0 + 60_000),
        });
        const receiver = new Receiver({
          currentSigningKey: qstash.currentSigningKey,
          nextSigningKey: qstash.nextSigningKey,
        });
        expect(
          await receiver.verify({
            signature: String(fired!.headers["upstash-signature"]),
            body: JSON.stringify(fired!.body),
            url: hook.url,
          }),
        ).toBe(true);
        const firing = await api(admin, "GET", "/v1/ops/alerts?state=firing");
        expect(firing.body.data.map((r: Json) => [r.id, r.name, r.metric, r.severity, r.state])).toEqual([
          [id, "e2e-queue-depth", "e2e_queue_depth", "critical", "firing"],
        ]);
        expect(firing.body.data[0]).toMatchObject({
          since: iso(t0 + 60_000),
          value: 60,
          labels: { team: "ops" },
        });

        // Still firing, twice more within the repeat interval: nothing more is sent.
        await sample(t0 + 90_000, 70, { queue: "a" });
        await runThroughQStash();
        await sample(t0 + 100_000, 80, { queue: "a" });
        await runThroughQStash();
        expect(hook.received).toHaveLength(1);

        // Duplicate deliveries of the job: the same message (skipped by the receiver) and another
        // message on the same samples (evaluates, finds nothing new).
        expect(await deliverJob(firingRun)).toMatchObject({ status: "skipped" });
        expect(await deliverJob(`msg_dup_${crypto.randomUUID()}`)).toMatchObject({
          status: "done",
          transitions: 0,
          queued: 0,
          sent: 0,
        });
        // A run that died after publishing, before marking the row sent: the next run publishes it
        // again with the same deduplication id, and QStash drops it.
        await owner.system((c) =>
          c.query("UPDATE analytics.alertas_notificacoes SET enviada_em = NULL, message_id = NULL"),
        );
        expect(await deliverJob(`msg_crash_${crypto.randomUUID()}`)).toMatchObject({
          status: "done",
          sent: 1,
        });
        expect(hook.received).toHaveLength(1);

        // Below the threshold: resolved, and exactly one more notification.
        await sample(t0 + 110_000, 5, { queue: "a" });
        await runThroughQStash();
        expect(hook.received).toHaveLength(2);
        expect(hook.received[1]!.body).toMatchObject({
          status: "resolved",
          repeat: false,
          rule_id: id,
          value: 5,
          threshold: 10,
          since: iso(t0 + 60_000),
          at: iso(t0 + 110_000),
          labels: { queue: "a", team: "ops" },
        });
        expect(hook.received[1]!.body.id).not.toBe(fired!.body.id);
        await runThroughQStash();
        expect(hook.received).toHaveLength(2);
        expect((await api(admin, "GET", "/v1/ops/alerts?state=firing")).body.data).toEqual([]);

        // The history, newest first: every transition, what was announced and its delivery.
        const history = await api(admin, "GET", `/v1/ops/alerts/history?rule_id=${id}&limit=2`);
        expect(history.status).toBe(200);
        expect(history.headers.get("cache-control")).toBe("no-store");
        const page2 = await api(admin, "GET", `/v1/ops/alerts/history?cursor=${history.body.next_cursor}`);
        const all = [...history.body.data, ...page2.body.data.filter((h: Json) => h.rule_id === id)];
        expect(all.map((h: Json) => [h.from, h.to, h.at, h.notification, h.deliveries])).toEqual([
          ["firing", "resolved", iso(t0 + 110_000), "resolved", { webhooks: 1, sent: 1, given_up: 0 }],
          ["pending", "firing", iso(t0 + 60_000), "firing", { webhooks: 1, sent: 1, given_up: 0 }],
          ["inactive", "pending", iso(t0), null, { webhooks: 0, sent: 0, given_up: 0 }],
        ]);
        expect(all[0]).toMatchObject({ rule_name: "e2e-queue-depth", instance: { queue: "a" }, value: 5 });
        // Nothing of queue b: the rule's match left it out.
        expect(all.every((h: Json) => h.instance.queue === "a")).toBe(true);
      },
    );

    it.skipIf(skip)("disabling a rule drops its instances (recorded, not announced)", async () => {
      const created = await api(admin, "POST", "/v1/ops/alerts", {
        name: "e2e-disable",
        metric: "e2e_queue_depth",
        operator: ">=",
        threshold: 0,
        for_seconds: 0,
        match: { queue: "c" },
        webhooks: [hook.url],
      });
      const before = hook.received.length;
      await sample(Date.now() - 5_000, 1, { queue: "c" });
      await runThroughQStash();
      expect(hook.received.length).toBe(before + 1);
      expect((await api(admin, "GET", `/v1/ops/alerts/${created.body.id}`)).body.state).toBe("firing");
      expect(
        (await api(admin, "PATCH", `/v1/ops/alerts/${created.body.id}`, { enabled: false })).status,
      ).toBe(200);
      await runThroughQStash();
      const after = await api(admin, "GET", `/v1/ops/alerts/${created.body.id}`);
      expect(after.body).toMatchObject({ state: "inactive", instances: [] });
      expect(hook.received.length).toBe(before + 1);
      const history = await api(admin, "GET", `/v1/ops/alerts/history?rule_id=${created.body.id}`);
      expect(history.body.data[0]).toMatchObject({
        from: "firing",
        to: "inactive",
        notification: null,
        value: null,
      });
    });
  });

  describe("the job run directly, on a clock the test moves", () => {
    const T = Date.parse("2031-03-01T12:00:00Z");
    const iso = (ms: number) => new Date(ms).toISOString();
    const published: { url: string; body: Json; dedup?: string }[] = [];
    let failNext = false;
    const recording: JobPublisher = {
      publish: async () => ({ messageId: "unused" }),
      async publishToUrl(url, body, opts) {
        if (failNext) {
          failNext = false;
          throw new Error("QStash said no");
        }
        published.push({ url, body: body as Json, dedup: opts?.deduplicationId });
        return { messageId: `msg_${published.length}` };
      },
    };
    const run = (now: number, publisher: JobPublisher | null = recording) => {
      const ctx: JobContext = {
        logger: { info() {}, warn() {}, error() {} },
        clock: { now: () => new Date(now) },
        redis: null,
        ownerUrl: t.ownerUrl,
        publisher,
        messageId: `msg_${crypto.randomUUID()}`,
        retried: 0,
        waitUntil: () => {},
      };
      return alerts.run(ctx, {});
    };
    const sample = (at: number, value: number) =>
      owner.withOwner((c) =>
        c.query(
          "INSERT INTO analytics.metricas (metrica, rotulos, em, valor) VALUES ('direct_lag', '{}', $1, $2)",
          [new Date(at), value],
        ),
      );

    it.skipIf(skip)(
      "queued without a publisher, retried after a failure, re-announced after `repeat`, resolved once",
      async () => {
        const { body: rule } = await api(admin, "POST", "/v1/ops/alerts", {
          name: "direct-lag",
          metric: "direct_lag",
          operator: ">",
          threshold: 0,
          repeat_seconds: 60,
          webhooks: ["https://hooks.example.com/a", "https://hooks.example.com/b"],
        });
        await sample(T, 1);
        // No QStash for publishing: the announcement waits in the outbox.
        expect(await run(T, null)).toMatchObject({ status: "done", transitions: 1, queued: 2, unsent: 2 });
        failNext = true;
        expect(await run(T + 1_000)).toMatchObject({ transitions: 0, queued: 0, sent: 1, failed: 1 });
        expect(await run(T + 2_000)).toMatchObject({ sent: 1, failed: 0 });
        expect(published.map((p) => [p.url, p.body.status, p.body.at])).toEqual([
          ["https://hooks.example.com/b", "firing", iso(T)],
          ["https://hooks.example.com/a", "firing", iso(T)],
        ]);
        // One announcement, two webhooks: the same id in the body, a deduplication id per URL.
        expect(published[0]!.body.id).toBe(published[1]!.body.id);
        expect(new Set(published.map((p) => p.dedup)).size).toBe(2);

        await sample(T + 30_000, 2);
        expect(await run(T + 30_000)).toMatchObject({ transitions: 0, sent: 0 });
        await sample(T + 60_000, 3);
        expect(await run(T + 60_000)).toMatchObject({ transitions: 1, queued: 2, sent: 2 });
        expect(published.slice(2).map((p) => p.body)).toEqual([
          expect.objectContaining({
            status: "firing",
            repeat: true,
            since: iso(T),
            at: iso(T + 60_000),
            value: 3,
          }),
          expect.objectContaining({
            status: "firing",
            repeat: true,
            since: iso(T),
            at: iso(T + 60_000),
            value: 3,
          }),
        ]);
        await sample(T + 90_000, 0);
        expect(await run(T + 90_000)).toMatchObject({ transitions: 1, queued: 2, sent: 2 });
        expect(published.slice(4).map((p) => [p.body.status, p.body.since, p.body.at])).toEqual([
          ["resolved", iso(T), iso(T + 90_000)],
          ["resolved", iso(T), iso(T + 90_000)],
        ]);
        // A sample 6 minutes old is no evidence: nothing moves.
        await sample(T + 100_000, 5);
        expect(await run(T + 100_000 + 6 * 60_000)).toMatchObject({ samples: 0, transitions: 0 });
        expect((await api(admin, "GET", `/v1/ops/alerts/${rule.id}`)).body.state).toBe("resolved");
        expect(published).toHaveLength(6);
      },
    );

    it.skipIf(skip)("an announcement not published within a day is given up", async () => {
      const { body: rule } = await api(admin, "POST", "/v1/ops/alerts", {
        name: "direct-stale",
        metric: "direct_lag",
        operator: "<",
        threshold: -1,
        webhooks: ["https://hooks.example.com/stale"],
      });
      const at = T + 10 * 60_000;
      await sample(at, -5);
      expect(await run(at, null)).toMatchObject({ queued: 1, unsent: 1 });
      const before = published.length;
      expect(await run(at + 86_400_000 + 1_000)).toMatchObject({ sent: 0, failed: 0, unsent: 0 });
      expect(published).toHaveLength(before);
      const history = await api(admin, "GET", `/v1/ops/alerts/history?rule_id=${rule.id}`);
      expect(history.body.data[0]).toMatchObject({
        rule_name: "direct-stale",
        notification: "firing",
        deliveries: { webhooks: 1, sent: 0, given_up: 1 },
      });
    });
  });
});
