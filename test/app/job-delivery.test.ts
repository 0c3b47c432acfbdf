/**
 * Job delivery end to end with the app in process: the QStash emulator delivers signed messages
 * over HTTP to `createApp()` served by @hono/node-server, with the Upstash Redis emulator behind
 * the idempotency claim. Test jobs (injected as the app's registry) fail on purpose, so every
 * failure path runs through the real receiver: transient → 5xx → QStash retries → success;
 * permanent → 2xx "failed", never retried; retries exhausted → DLQ; one message id delivered
 * four times at once → the job runs once.
 */
import { Client } from "@upstash/qstash";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type QStashEmulator, startQStash } from "../../dev/qstash";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { jobs } from "../../jobs/registry";
import { schedulesOf } from "../../jobs/schedules";
import { syncSchedules } from "../../jobs/schedules/sync";
import { defineJob, PermanentJobError } from "../../jobs/types";
import { type ServedApp, serveApp, upstashVars } from "../harness/app";
import { json } from "../harness/http";
import { signQStash } from "../harness/qstash";

/** Deliveries each test job saw, by job name: the Upstash-Retried count of every run. */
const runs: Record<string, number[]> = {};
function record(name: string, retried: number) {
  runs[name] = [...(runs[name] ?? []), retried];
}
const payload = z.object({}).strict();
const echoed: string[] = [];

const testJobs = {
  // Fails on the first delivery with an error a retry can fix, then succeeds.
  flaky: defineJob({
    name: "flaky",
    description: "transient failure, then success",
    payload,
    async run(ctx) {
      record("flaky", ctx.retried);
      if (ctx.retried === 0) throw Object.assign(new Error("connection reset"), { code: "08006" });
      return { status: "done" };
    },
  }),
  doomed: defineJob({
    name: "doomed",
    description: "fails in a way no retry can fix",
    payload,
    async run(ctx) {
      record("doomed", ctx.retried);
      throw new PermanentJobError("the source table does not exist");
    },
  }),
  broken: defineJob({
    name: "broken",
    description: "fails transiently on every delivery",
    payload,
    async run(ctx) {
      record("broken", ctx.retried);
      throw new Error("still down");
    },
  }),
  // Publishes a follow-up to `echo` through the context's publisher, twice with one dedup id.
  relay: defineJob({
    name: "relay",
    description: "publishes follow-up work",
    payload,
    async run(ctx) {
      if (!ctx.publisher) throw new PermanentJobError("no publisher");
      const ids = [];
      for (let i = 0; i < 2; i++) {
        ids.push(
          (
            await ctx.publisher.publish(
              "echo",
              { from: ctx.messageId },
              { deduplicationId: `relay-${ctx.messageId}` },
            )
          ).messageId,
        );
      }
      return { status: "done", ids };
    },
  }),
  echo: defineJob({
    name: "echo",
    description: "records the follow-up it got",
    payload: z.object({ from: z.string() }).strict(),
    async run(ctx, body) {
      record("echo", ctx.retried);
      echoed.push(body.from);
      return { status: "done" };
    },
  }),
  slow: defineJob({
    name: "slow",
    description: "takes a while, so concurrent deliveries overlap",
    payload,
    async run(ctx) {
      record("slow", ctx.retried);
      await new Promise((r) => setTimeout(r, 400));
      return { status: "done" };
    },
  }),
};

describe("job delivery through QStash to the app in process", () => {
  let redis: UpstashRedisEmulator;
  let qstash: QStashEmulator;
  let app: ServedApp;
  let client: Client;
  const url = (job: string) => `${app.url}/jobs/${job}`;

  beforeAll(async () => {
    redis = await startUpstashRedis({ port: 0 });
    qstash = await startQStash({ port: 0, retryBaseDelayMs: 20 });
    app = await serveApp(upstashVars(redis, qstash), { jobs: testJobs });
    client = new Client({ baseUrl: qstash.url, token: qstash.token });
  });
  afterAll(async () => {
    await app?.close();
    await qstash?.close();
    await redis?.close();
  });

  it("a transient failure answers 5xx, QStash retries, and the retry succeeds", async () => {
    const { messageId } = await client.publishJSON({ url: url("flaky"), body: {}, retries: 3 });
    await qstash.idle(10_000);
    expect(runs.flaky).toEqual([0, 1]);
    const { logs } = await client.logs({ filter: { messageId } });
    // responseStatus is in QStash's log answer, though the client's Log type leaves it out.
    const events = logs.map((l) =>
      `${l.state} ${(l as { responseStatus?: number }).responseStatus ?? ""}`.trim(),
    );
    expect(events).toContain("RETRY 500");
    expect(events).toContain("DELIVERED 200");
    const { messages } = await client.dlq.listMessages({ filter: { url: url("flaky") } });
    expect(messages).toEqual([]);
  });

  it("a permanent failure answers 2xx 'failed' once and is never retried", async () => {
    await client.publishJSON({ url: url("doomed"), body: {}, retries: 3 });
    await qstash.idle(10_000);
    expect(runs.doomed).toEqual([0]);
    // Delivered again by hand (at-least-once): the recorded outcome answers, the job does not run.
    const { messageId } = await client.publishJSON({ url: url("doomed"), body: {}, retries: 0 });
    await qstash.idle(10_000);
    expect(runs.doomed).toEqual([0, 0]);
    const again = await fetch(url("doomed"), {
      method: "POST",
      body: "{}",
      headers: {
        "upstash-signature": await signQStash(qstash.currentSigningKey, url("doomed"), "{}"),
        "upstash-message-id": messageId,
      },
    });
    expect(again.status).toBe(200);
    expect(await json(again)).toMatchObject({ status: "skipped" });
    expect(runs.doomed).toEqual([0, 0]);
    const { messages } = await client.dlq.listMessages({ filter: { url: url("doomed") } });
    expect(messages).toEqual([]);
  });

  it("retries exhausted: the message lands in the DLQ with the app's 500 answer", async () => {
    const { messageId } = await client.publishJSON({ url: url("broken"), body: {}, retries: 2 });
    await qstash.idle(10_000);
    expect(runs.broken).toEqual([0, 1, 2]);
    const { messages } = await client.dlq.listMessages({ filter: { url: url("broken") } });
    expect(messages.map((m) => [m.messageId, m.responseStatus])).toEqual([[messageId, 500]]);
    const body = JSON.parse(messages[0]!.responseBody ?? "{}");
    expect(body.error.code).toBe("internal_server_error");
    // The answer names no internals: not the error's message.
    expect(messages[0]!.responseBody).not.toContain("still down");
  });

  it("a job's follow-up message reaches our own job URL once, deduplicated by its id", async () => {
    const { messageId } = await client.publishJSON({ url: url("relay"), body: {} });
    await qstash.idle(10_000);
    expect(echoed).toEqual([messageId]);
    expect(runs.echo).toEqual([0]);
  });

  it("four concurrent deliveries of one message id run the job once; the others are told busy", async () => {
    const messageId = `msg_slow_${crypto.randomUUID()}`;
    // Four distinct, valid signatures (QStash signs every attempt anew), one message id.
    const answers = await Promise.all(
      [0, 1, 2, 3].map(async () =>
        fetch(url("slow"), {
          method: "POST",
          body: "{}",
          headers: {
            "upstash-signature": await signQStash(qstash.currentSigningKey, url("slow"), "{}"),
            "upstash-message-id": messageId,
          },
        }),
      ),
    );
    expect(runs.slow).toEqual([0]);
    const outcomes = await Promise.all(
      answers.map(
        async (r) => `${r.status} ${r.status === 200 ? (await json(r)).status : (await json(r)).error.code}`,
      ),
    );
    expect(outcomes.sort()).toEqual(["200 done", "409 conflict", "409 conflict", "409 conflict"]);
  });
});

describe("schedules:sync keeps an operator's pause", () => {
  let qstash: QStashEmulator;
  let client: Client;
  const publicUrl = "http://127.0.0.1:9/fisioflow";
  beforeAll(async () => {
    qstash = await startQStash({ port: 0 });
    client = new Client({ baseUrl: qstash.url, token: qstash.token });
  });
  afterAll(async () => {
    await qstash?.close();
  });

  it("across a change of cron and of payload (QStash replaces a schedule on upsert)", async () => {
    const opts = { qstashUrl: qstash.url, qstashToken: qstash.token, publicUrl };
    const registry = schedulesOf(jobs);
    await syncSchedules({ ...opts, schedules: registry });
    await client.schedules.pause({ schedule: "heartbeat" });

    const newCron = registry.map((s) => (s.name === "heartbeat" ? { ...s, cron: "*/10 * * * *" } : s));
    const first = await syncSchedules({ ...opts, schedules: newCron });
    expect(first.upserted).toEqual(["heartbeat"]);
    let hb = await client.schedules.get("heartbeat");
    expect([hb.cron, hb.isPaused]).toEqual(["*/10 * * * *", true]);

    const newPayload = newCron.map((s) => (s.name === "heartbeat" ? { ...s, payload: { note: "v2" } } : s));
    const second = await syncSchedules({ ...opts, schedules: newPayload });
    expect(second.upserted).toEqual(["heartbeat"]);
    hb = await client.schedules.get("heartbeat");
    expect([hb.body, hb.isPaused]).toEqual(['{"note":"v2"}', true]);
    // The schedule left alone stays active.
    expect((await client.schedules.get("partitions")).isPaused).toBe(false);
  });
});
