/**
 * The local QStash emulator, driven only through the official `@upstash/qstash` Client and
 * checked with its Receiver. A small node:http destination records each delivery and verifies
 * its Upstash-Signature the way our job endpoints do.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client, QstashError, Receiver, SignatureError } from "@upstash/qstash";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QSTASH_DEV_CREDENTIALS, type QStashEmulator, startQStash } from "../../dev/qstash";

interface Delivery {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  finishedAt?: number;
  /** true, or the SignatureError message. */
  verified: true | string;
}

let emulator: QStashEmulator;
let destination: Server;
let destinationUrl: string;
let client: Client;
let receiver: Receiver;
/** Moves the emulator's clock forward (schedules), never backward. */
let clockOffset = 0;
const deliveries: Delivery[] = [];
/** path → how many more times it answers 500 before 200. */
const failuresLeft = new Map<string, number>();

const deliveriesTo = (path: string) => deliveries.filter((delivery) => delivery.path === path);

async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeAll(async () => {
  receiver = new Receiver({
    currentSigningKey: QSTASH_DEV_CREDENTIALS.currentSigningKey,
    nextSigningKey: QSTASH_DEV_CREDENTIALS.nextSigningKey,
  });
  destination = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const path = req.url ?? "/";
    const verified = await receiver
      .verify({ signature: String(req.headers["upstash-signature"]), body, url: `${destinationUrl}${path}` })
      .then(
        () => true as const,
        (error: Error) => error.message,
      );
    const delivery: Delivery = {
      path,
      method: req.method ?? "",
      headers: req.headers,
      body,
      at: Date.now(),
      verified,
    };
    deliveries.push(delivery);
    if (path.startsWith("/slow")) await new Promise((resolve) => setTimeout(resolve, 150));
    delivery.finishedAt = Date.now();
    const left = failuresLeft.get(path) ?? 0;
    if (path.startsWith("/always-fail") || left > 0) {
      failuresLeft.set(path, left - 1);
      res.writeHead(500, { "Content-Type": "text/plain" }).end("destination exploded");
      return;
    }
    res.writeHead(200).end("ok");
  });
  await new Promise<void>((resolve) => destination.listen(0, "127.0.0.1", resolve));
  destinationUrl = `http://127.0.0.1:${(destination.address() as AddressInfo).port}`;

  emulator = await startQStash({
    port: 0,
    retryBaseDelayMs: 20,
    tickMs: 10,
    now: () => Date.now() + clockOffset,
  });
  client = new Client({ baseUrl: emulator.url, token: emulator.token });
});

afterAll(async () => {
  await emulator?.close();
  await new Promise((resolve) => destination?.close(resolve));
});

describe("publish and delivery", () => {
  it("delivers publishJSON once, body intact, signed for the destination URL", async () => {
    const url = `${destinationUrl}/jobs/sync?batch=1`;
    const payload = { table: "pacientes", since: "2026-01-01T00:00:00Z", acentuação: "çãé" };
    const { messageId } = await client.publishJSON({ url, body: payload });
    expect(messageId).toMatch(/^msg_/);
    await emulator.idle();

    const [delivery, ...more] = deliveriesTo("/jobs/sync?batch=1");
    expect(more).toHaveLength(0);
    expect(delivery!.method).toBe("POST");
    expect(JSON.parse(delivery!.body)).toEqual(payload);
    expect(delivery!.headers["content-type"]).toBe("application/json");
    expect(delivery!.headers["upstash-message-id"]).toBe(messageId);
    expect(delivery!.headers["upstash-retried"]).toBe("0");
    expect(delivery!.headers["upstash-schedule-id"]).toBeUndefined();
    expect(delivery!.verified).toBe(true);
    // The same signature does not verify for another URL.
    await expect(
      receiver.verify({
        signature: String(delivery!.headers["upstash-signature"]),
        body: delivery!.body,
        url: `${destinationUrl}/jobs/other`,
      }),
    ).rejects.toThrow(/invalid subject/);
  });

  it("forwards headers without the Upstash-Forward- prefix and honours Upstash-Method", async () => {
    await client.publish({
      url: `${destinationUrl}/forward`,
      body: "plain body",
      method: "PUT",
      headers: { "X-Tenant": "clinic-7", "Content-Type": "text/plain" },
    });
    await emulator.idle();
    const [delivery] = deliveriesTo("/forward");
    expect(delivery!.method).toBe("PUT");
    expect(delivery!.headers["x-tenant"]).toBe("clinic-7");
    expect(delivery!.headers["content-type"]).toBe("text/plain");
    expect(delivery!.headers["upstash-forward-x-tenant"]).toBeUndefined();
    expect(delivery!.headers["upstash-method"]).toBeUndefined();
    expect(delivery!.body).toBe("plain body");
    expect(delivery!.verified).toBe(true);
  });

  it("holds a delayed message until its time, and shows it meanwhile", async () => {
    const publishedAt = Date.now();
    const { messageId } = await client.publishJSON({
      url: `${destinationUrl}/delayed`,
      body: { n: 1 },
      delay: 1,
    });
    const pending = await client.messages.get(messageId);
    expect(pending.messageId).toBe(messageId);
    expect(pending.url).toBe(`${destinationUrl}/delayed`);
    expect(pending.notBefore).toBeGreaterThanOrEqual(publishedAt + 1000 - 5);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(deliveriesTo("/delayed")).toHaveLength(0);
    await emulator.idle();
    const [delivery] = deliveriesTo("/delayed");
    expect(delivery!.at - publishedAt).toBeGreaterThanOrEqual(1000 - 5);
    // Delivered messages are gone, as in QStash.
    await expect(client.messages.get(messageId)).rejects.toMatchObject({ status: 404 });
  });

  it("cancels a pending message, which is then never delivered", async () => {
    const { messageId } = await client.publishJSON({
      url: `${destinationUrl}/cancelled`,
      body: {},
      delay: "1m",
    });
    await expect(client.messages.cancel(messageId)).resolves.toEqual({ cancelled: 1 });
    await emulator.idle();
    await expect(client.messages.get(messageId)).rejects.toMatchObject({ status: 404 });
    expect(deliveriesTo("/cancelled")).toHaveLength(0);
  });

  it("rejects a wrong token with 401", async () => {
    const intruder = new Client({ baseUrl: emulator.url, token: "not-the-token", retry: false });
    const error = await intruder.publishJSON({ url: `${destinationUrl}/nope`, body: {} }).catch((e) => e);
    expect(error).toBeInstanceOf(QstashError);
    expect((error as QstashError).status).toBe(401);
  });

  it("answers 400 to a bad delay", async () => {
    const error = await client
      .publish({ url: `${destinationUrl}/bad`, body: "x", delay: "soon" as unknown as "1s" })
      .catch((e) => e);
    expect((error as QstashError).status).toBe(400);
  });

  it("answers 400, not 500, to a malformed percent-encoding in the path", async () => {
    const headers = { Authorization: `Bearer ${emulator.token}` };
    const get = await fetch(`${emulator.url}/v2/messages/%E0%A4%A`, { headers });
    expect(get.status).toBe(400);
    const enqueue = await fetch(`${emulator.url}/v2/enqueue/%ZZ/${destinationUrl}/bad`, {
      method: "POST",
      headers,
    });
    expect(enqueue.status).toBe(400);
  });
});

describe("retries and the DLQ", () => {
  it("retries a failing destination with Upstash-Retried 0, 1, 2 until it succeeds", async () => {
    failuresLeft.set("/flaky", 2);
    const { messageId } = await client.publishJSON({
      url: `${destinationUrl}/flaky`,
      body: { job: "metrics" },
    });
    await emulator.idle();
    const attempts = deliveriesTo("/flaky");
    expect(attempts.map((attempt) => attempt.headers["upstash-retried"])).toEqual(["0", "1", "2"]);
    expect(attempts.every((attempt) => attempt.headers["upstash-message-id"] === messageId)).toBe(true);
    expect(attempts.every((attempt) => attempt.verified === true)).toBe(true);
    // Backoff: the second retry waits longer than the first (base 20 ms, doubling).
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(15);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(35);
    const { messages } = await client.dlq.listMessages();
    expect(messages.some((message) => message.messageId === messageId)).toBe(false);
  });

  it("moves a message to the DLQ after its retries, where it can be listed, retried and deleted", async () => {
    const { messageId } = await client.publishJSON({
      url: `${destinationUrl}/always-fail/a`,
      body: { job: "backup" },
      retries: 2,
    });
    await emulator.idle();
    expect(deliveriesTo("/always-fail/a").map((d) => d.headers["upstash-retried"])).toEqual(["0", "1", "2"]);

    const { messages } = await client.dlq.listMessages();
    const dead = messages.find((message) => message.messageId === messageId);
    expect(dead).toBeDefined();
    expect(dead!.url).toBe(`${destinationUrl}/always-fail/a`);
    expect(dead!.responseStatus).toBe(500);
    expect(dead!.responseBody).toBe("destination exploded");
    expect(dead!.body).toBe(JSON.stringify({ job: "backup" }));
    expect(dead!.maxRetries).toBe(2);
    const filtered = await client.dlq.listMessages({ filter: { url: `${destinationUrl}/always-fail/a` } });
    expect(filtered.messages.map((message) => message.dlqId)).toEqual([dead!.dlqId]);

    // Retrying republishes it (a new message id); it fails again and comes back.
    const { responses } = await client.dlq.retry(dead!.dlqId);
    expect(responses).toHaveLength(1);
    expect(responses[0]!.messageId).not.toBe(messageId);
    await emulator.idle();
    const again = await client.dlq.listMessages({ filter: { url: `${destinationUrl}/always-fail/a` } });
    expect(again.messages.map((message) => message.messageId)).toEqual([responses[0]!.messageId]);

    await expect(client.dlq.delete(again.messages[0]!.dlqId)).resolves.toEqual({ deleted: 1 });
    const after = await client.dlq.listMessages({ filter: { url: `${destinationUrl}/always-fail/a` } });
    expect(after.messages).toHaveLength(0);
  });

  it("pages the DLQ with a cursor", async () => {
    await client.batchJSON(
      [1, 2, 3].map((n) => ({ url: `${destinationUrl}/always-fail/page`, body: { n }, retries: 0 })),
    );
    await emulator.idle();
    const filter = { url: `${destinationUrl}/always-fail/page` };
    const first = await client.dlq.listMessages({ filter, count: 2 });
    expect(first.messages).toHaveLength(2);
    expect(first.cursor).toBeDefined();
    const second = await client.dlq.listMessages({ filter, count: 2, cursor: first.cursor });
    expect(second.messages).toHaveLength(1);
    expect(second.cursor).toBeUndefined();
    const bodies = [...first.messages, ...second.messages].map((message) => JSON.parse(message.body!).n);
    expect(bodies.sort()).toEqual([1, 2, 3]);
  });
});

describe("callbacks, queues, retry delay and logs", () => {
  it("calls the callback after a success and the failure callback after the DLQ", async () => {
    const ok = await client.publishJSON({
      url: `${destinationUrl}/cb/source`,
      body: { n: 1 },
      callback: `${destinationUrl}/cb/success`,
    });
    const failed = await client.publishJSON({
      url: `${destinationUrl}/always-fail/cb`,
      body: { n: 2 },
      retries: 0,
      failureCallback: `${destinationUrl}/cb/failure`,
    });
    await emulator.idle();
    const [success] = deliveriesTo("/cb/success");
    expect(success!.verified).toBe(true);
    const report = JSON.parse(success!.body);
    expect(report).toMatchObject({
      status: 200,
      sourceMessageId: ok.messageId,
      url: `${destinationUrl}/cb/source`,
    });
    expect(Buffer.from(report.body, "base64").toString()).toBe("ok");
    expect(Buffer.from(report.sourceBody, "base64").toString()).toBe(JSON.stringify({ n: 1 }));
    const [failure] = deliveriesTo("/cb/failure");
    const failureReport = JSON.parse(failure!.body);
    expect(failureReport).toMatchObject({ status: 500, sourceMessageId: failed.messageId, retried: 0 });
    expect(failureReport.dlqId).toEqual(expect.any(String));
  });

  it("gives the failure callback its own forwarded headers when both callbacks share a URL", async () => {
    await client.publishJSON({
      url: `${destinationUrl}/always-fail/same-cb`,
      body: {},
      retries: 0,
      callback: `${destinationUrl}/cb/same`,
      failureCallback: `${destinationUrl}/cb/same`,
      headers: {
        "Upstash-Callback-Forward-Kind": "success",
        "Upstash-Failure-Callback-Forward-Kind": "failure",
      },
    });
    await emulator.idle();
    const reports = deliveriesTo("/cb/same");
    expect(reports).toHaveLength(1);
    expect(JSON.parse(reports[0]!.body)).toMatchObject({ status: 500 });
    expect(reports[0]!.headers.kind).toBe("failure");
  });

  it("delivers concurrently, but a queue one message at a time in order", async () => {
    await Promise.all(
      [1, 2].map((n) => client.publishJSON({ url: `${destinationUrl}/slow/free`, body: { n } })),
    );
    const queue = client.queue({ queueName: "serial" });
    for (const n of [1, 2, 3]) await queue.enqueueJSON({ url: `${destinationUrl}/slow/queued`, body: { n } });
    await emulator.idle();
    const free = deliveriesTo("/slow/free");
    expect(free[1]!.at).toBeLessThan(free[0]!.finishedAt!);
    const queued = deliveriesTo("/slow/queued");
    expect(queued.map((d) => JSON.parse(d.body).n)).toEqual([1, 2, 3]);
    expect(queued[1]!.at).toBeGreaterThanOrEqual(queued[0]!.finishedAt!);
    expect(queued[2]!.at).toBeGreaterThanOrEqual(queued[1]!.finishedAt!);
    expect(await queue.get()).toMatchObject({ name: "serial", parallelism: 1, lag: 0, paused: false });
  });

  it("waits the Upstash-Retry-Delay expression between attempts", async () => {
    failuresLeft.set("/retry-delay", 1);
    await client.publishJSON({
      url: `${destinationUrl}/retry-delay`,
      body: {},
      retryDelay: "200 + retried * 1000",
    });
    await emulator.idle();
    const [first, second] = deliveriesTo("/retry-delay");
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(195);
    expect(second!.at - first!.at).toBeLessThan(1000);
  });

  it("records the message's life in the logs", async () => {
    failuresLeft.set("/logged", 1);
    const { messageId } = await client.publishJSON({ url: `${destinationUrl}/logged`, body: {} });
    await emulator.idle();
    const { logs } = await client.logs({ filter: { messageId } });
    expect(logs.map((log) => log.state).reverse()).toEqual([
      "CREATED",
      "ACTIVE",
      "RETRY",
      "ACTIVE",
      "DELIVERED",
    ]);
  });
});

describe("deduplication and batches", () => {
  it("delivers a deduplication id only once", async () => {
    const url = `${destinationUrl}/dedup-id`;
    const first = await client.publishJSON({ url, body: { a: 1 }, deduplicationId: "sync-2026-11-01" });
    const second = await client.publishJSON({ url, body: { a: 2 }, deduplicationId: "sync-2026-11-01" });
    expect(first.deduplicated).toBeFalsy();
    expect(second.deduplicated).toBe(true);
    expect(second.messageId).toBe(first.messageId);
    await emulator.idle();
    expect(deliveriesTo("/dedup-id").map((d) => JSON.parse(d.body))).toEqual([{ a: 1 }]);
  });

  it("deduplicates identical content when asked to", async () => {
    const url = `${destinationUrl}/dedup-content`;
    const a = await client.publishJSON({ url, body: { x: 1 }, contentBasedDeduplication: true });
    const b = await client.publishJSON({ url, body: { x: 1 }, contentBasedDeduplication: true });
    const c = await client.publishJSON({ url, body: { x: 2 }, contentBasedDeduplication: true });
    expect(b).toMatchObject({ messageId: a.messageId, deduplicated: true });
    expect(c.messageId).not.toBe(a.messageId);
    await emulator.idle();
    expect(deliveriesTo("/dedup-content").map((d) => JSON.parse(d.body))).toEqual([{ x: 1 }, { x: 2 }]);
  });

  it("publishes a batchJSON, one message per entry", async () => {
    const results = await client.batchJSON([
      { url: `${destinationUrl}/batch/1`, body: { n: 1 } },
      { url: `${destinationUrl}/batch/2`, body: { n: 2 }, headers: { "X-Kind": "two" } },
      { url: `${destinationUrl}/batch/3`, body: { n: 3 } },
    ]);
    expect(results).toHaveLength(3);
    expect(new Set(results.map((result) => result.messageId)).size).toBe(3);
    await emulator.idle();
    for (const n of [1, 2, 3]) {
      const [delivery, ...more] = deliveriesTo(`/batch/${n}`);
      expect(more).toHaveLength(0);
      expect(JSON.parse(delivery!.body)).toEqual({ n });
      expect(delivery!.headers["upstash-message-id"]).toBe(results[n - 1]!.messageId);
      expect(delivery!.verified).toBe(true);
    }
    expect(deliveriesTo("/batch/2")[0]!.headers["x-kind"]).toBe("two");
  });
});

describe("schedules", () => {
  /** Moves the emulator clock past the next minute boundary and runs one scheduler pass. */
  async function nextMinute(): Promise<void> {
    clockOffset += 61_000;
    await emulator.tick();
    await emulator.idle();
  }

  it("creates, reads, fires, pauses, resumes and deletes a schedule", async () => {
    const path = "/jobs/metrics";
    const { scheduleId } = await client.schedules.create({
      destination: `${destinationUrl}${path}`,
      cron: "* * * * *",
      scheduleId: "metrics-every-minute",
      body: JSON.stringify({ job: "metrics" }),
      headers: { "X-Job": "metrics" },
      retries: 1,
    });
    expect(scheduleId).toBe("metrics-every-minute");

    const schedule = await client.schedules.get(scheduleId);
    expect(schedule).toMatchObject({
      scheduleId,
      cron: "* * * * *",
      destination: `${destinationUrl}${path}`,
      method: "POST",
      body: JSON.stringify({ job: "metrics" }),
      retries: 1,
      isPaused: false,
    });
    expect(schedule.header?.["X-Job"]).toEqual(["metrics"]);
    expect(schedule.createdAt).toBeGreaterThan(0);
    expect(schedule.nextScheduleTime).toBeGreaterThan(schedule.createdAt);
    expect((await client.schedules.list()).map((s) => s.scheduleId)).toContain(scheduleId);

    await nextMinute();
    const fired = deliveriesTo(path);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.headers["upstash-schedule-id"]).toBe(scheduleId);
    expect(fired[0]!.headers["x-job"]).toBe("metrics");
    expect(fired[0]!.headers["content-type"]).toBe("application/json");
    expect(fired[0]!.body).toBe(JSON.stringify({ job: "metrics" }));
    expect(fired[0]!.verified).toBe(true);
    const afterFire = await client.schedules.get(scheduleId);
    expect(afterFire.lastScheduleTime).toBeDefined();
    expect(Object.values(afterFire.lastScheduleStates ?? {})).toEqual(["SUCCESS"]);

    await client.schedules.pause({ schedule: scheduleId });
    expect((await client.schedules.get(scheduleId)).isPaused).toBe(true);
    await nextMinute();
    expect(deliveriesTo(path)).toHaveLength(1);

    await client.schedules.resume({ schedule: scheduleId });
    expect((await client.schedules.get(scheduleId)).isPaused).toBe(false);
    await nextMinute();
    expect(deliveriesTo(path)).toHaveLength(2);

    await client.schedules.delete(scheduleId);
    await expect(client.schedules.get(scheduleId)).rejects.toMatchObject({ status: 404 });
    expect((await client.schedules.list()).map((s) => s.scheduleId)).not.toContain(scheduleId);
    await nextMinute();
    expect(deliveriesTo(path)).toHaveLength(2);
  });

  it("upserts by schedule id", async () => {
    const create = (cron: string) =>
      client.schedules.create({ destination: `${destinationUrl}/upsert`, cron, scheduleId: "upsert-me" });
    await create("0 3 * * *");
    await create("30 4 * * 1");
    const schedules = (await client.schedules.list()).filter((s) => s.scheduleId === "upsert-me");
    expect(schedules.map((s) => s.cron)).toEqual(["30 4 * * 1"]);
    const { nextScheduleTime } = schedules[0]!;
    const next = new Date(nextScheduleTime!);
    expect([next.getUTCDay(), next.getUTCHours(), next.getUTCMinutes()]).toEqual([1, 4, 30]);
    await client.schedules.delete("upsert-me");
  });

  it("upserting a paused schedule replaces it with an active one (the old one is discarded)", async () => {
    const scheduleId = "upsert-paused";
    const path = "/upsert-paused";
    const create = (cron: string) =>
      client.schedules.create({ destination: `${destinationUrl}${path}`, cron, scheduleId });
    await create("0 3 * * *");
    await client.schedules.pause({ schedule: scheduleId });
    expect((await client.schedules.get(scheduleId)).isPaused).toBe(true);

    await expect(create("* * * * *")).resolves.toEqual({ scheduleId });
    const schedule = await client.schedules.get(scheduleId);
    expect(schedule).toMatchObject({ scheduleId, cron: "* * * * *", isPaused: false });
    expect((await client.schedules.list()).filter((s) => s.scheduleId === scheduleId)).toHaveLength(1);
    // Active, not just reported so: it fires.
    await nextMinute();
    expect(deliveriesTo(path).map((d) => d.headers["upstash-schedule-id"])).toEqual([scheduleId]);
    await client.schedules.delete(scheduleId);
  });

  it("rejects an invalid cron with 400", async () => {
    const error = await client.schedules
      .create({ destination: `${destinationUrl}/x`, cron: "every minute" })
      .catch((e) => e);
    expect((error as QstashError).status).toBe(400);
  });
});

describe("Receiver against the emulator's signatures", () => {
  let signature: string;
  let body: string;
  let publishedAt: number;
  let deliveredAt: number;
  const path = "/verify-me?via=emulator";
  const url = () => `${destinationUrl}${path}`;
  /** A key neither the emulator nor `receiver` knows. */
  const unrelatedKey = "sig_3Qv8TnUuYw2ZkRb9LcXe4Hs6PdMa";

  beforeAll(async () => {
    publishedAt = Date.now();
    await client.publishJSON({ url: url(), body: { hello: "world" } });
    await emulator.idle();
    deliveredAt = Date.now();
    const [delivery] = deliveriesTo(path);
    signature = String(delivery!.headers["upstash-signature"]);
    body = delivery!.body;
  });

  /** Publishes through `qstash` to `at` and returns the one delivery the destination saw there. */
  async function deliverVia(qstash: QStashEmulator, at: string): Promise<Delivery> {
    await new Client({ baseUrl: qstash.url, token: qstash.token }).publishJSON({
      url: `${destinationUrl}${at}`,
      body: { hello: "world" },
    });
    await qstash.idle();
    const [delivery, ...more] = deliveriesTo(at);
    expect(more).toHaveLength(0);
    return delivery!;
  }

  const signatureOf = (delivery: Delivery) => String(delivery.headers["upstash-signature"]);

  it("accepts the delivery as sent", async () => {
    await expect(receiver.verify({ signature, body, url: url() })).resolves.toBe(true);
  });

  it("rejects a tampered body", async () => {
    await expect(
      receiver.verify({ signature, body: body.replace("world", "w0rld"), url: url() }),
    ).rejects.toThrow(/body hash does not match/);
  });

  it("rejects another URL", async () => {
    await expect(receiver.verify({ signature, body, url: `${destinationUrl}/elsewhere` })).rejects.toThrow(
      /invalid subject/,
    );
  });

  it("rejects a delivery the emulator signed an hour ago, and verifies one it signs now", async () => {
    let signedAgoMs = 3_600_000;
    const past = await startQStash({ port: 0, tickMs: 10, signatureNow: () => Date.now() - signedAgoMs });
    try {
      const stale = await deliverVia(past, "/expired/stale");
      const expired = {
        signature: signatureOf(stale),
        body: stale.body,
        url: `${destinationUrl}/expired/stale`,
      };
      expect(decodeJwt(expired.signature).exp).toBeLessThan(Date.now() / 1000 - 3000);
      await expect(receiver.verify(expired)).rejects.toThrow(SignatureError);
      // Receiver reports the error of its last try (the next key); with both keys equal it names exp.
      const key = QSTASH_DEV_CREDENTIALS.currentSigningKey;
      const sameKeys = new Receiver({ currentSigningKey: key, nextSigningKey: key });
      await expect(sameKeys.verify(expired)).rejects.toThrow(/"exp" claim/);

      // Control: the same emulator, signing at the real time, verifies.
      signedAgoMs = 0;
      const fresh = await deliverVia(past, "/expired/fresh");
      expect(fresh.verified).toBe(true);
      await expect(
        sameKeys.verify({
          signature: signatureOf(fresh),
          body: fresh.body,
          url: `${destinationUrl}/expired/fresh`,
        }),
      ).resolves.toBe(true);
    } finally {
      await past.close();
    }
  });

  it("rejects a delivery from an emulator whose signing keys are not the Receiver's", async () => {
    const foreignKeys = {
      currentSigningKey: "sig_Fx9aQ2wLr7TmZc4VbN8yKd3PeHs5",
      nextSigningKey: "sig_Gt6uJ1oXq8WnYe2MaR5zLc7BvDk4",
    };
    const foreign = await startQStash({ port: 0, tickMs: 10, ...foreignKeys });
    try {
      expect(foreign).toMatchObject(foreignKeys);
      const delivery = await deliverVia(foreign, "/foreign");
      const request = {
        signature: signatureOf(delivery),
        body: delivery.body,
        url: `${destinationUrl}/foreign`,
      };
      await expect(receiver.verify(request)).rejects.toThrow(/signature verification failed/);
      // Control: it is signed with the configured key, which verifies it.
      await expect(new Receiver(foreignKeys).verify(request)).resolves.toBe(true);
    } finally {
      await foreign.close();
    }
  });

  it("signs with the current signing key, not the next one (key rotation)", async () => {
    // A receiver that has the current key and any next key accepts ...
    const current = new Receiver({
      currentSigningKey: emulator.currentSigningKey,
      nextSigningKey: unrelatedKey,
    });
    await expect(current.verify({ signature, body, url: url() })).resolves.toBe(true);
    // ... one that only knows the next key does not.
    const nextOnly = new Receiver({
      currentSigningKey: emulator.nextSigningKey,
      nextSigningKey: emulator.nextSigningKey,
    });
    await expect(nextOnly.verify({ signature, body, url: url() })).rejects.toThrow(
      /signature verification failed/,
    );
  });

  it("puts QStash's header and claims in the JWT", async () => {
    expect(decodeProtectedHeader(signature)).toEqual({ alg: "HS256", typ: "JWT" });
    const claims = decodeJwt(signature);
    expect(Object.keys(claims).sort()).toEqual(["body", "exp", "iat", "iss", "jti", "nbf", "sub"]);
    expect(claims.iss).toBe("Upstash");
    expect(claims.sub).toBe(url());
    // base64url SHA-256 of the raw body, padded as QStash writes it (its docs' example ends in "=").
    const hash = createHash("sha256").update(body).digest("base64").replaceAll("+", "-").replaceAll("/", "_");
    expect(claims.body).toBe(hash);
    expect(claims.iat).toBeGreaterThanOrEqual(Math.floor(publishedAt / 1000));
    expect(claims.iat).toBeLessThanOrEqual(Math.ceil(deliveredAt / 1000));
    expect(claims.nbf).toBe(claims.iat);
    // QStash's JWTs live 5 minutes.
    expect(claims.exp! - claims.iat!).toBe(5 * 60);
    expect(claims.jti).toMatch(/^jwt_\w+$/);
  });

  it("gives each delivery its own jti", async () => {
    await client.publishJSON({ url: url(), body: { hello: "world" } });
    await emulator.idle();
    const [first, second] = deliveriesTo(path);
    expect(second!.body).toBe(first!.body);
    expect(second!.verified).toBe(true);
    expect(decodeJwt(signatureOf(second!)).jti).not.toBe(decodeJwt(signatureOf(first!)).jti);
  });

  it("signs a retried delivery afresh, with a new jti", async () => {
    failuresLeft.set("/verify-retried", 1);
    await client.publishJSON({ url: `${destinationUrl}/verify-retried`, body: { hello: "again" } });
    await emulator.idle();
    const attempts = deliveriesTo("/verify-retried");
    expect(attempts.map((attempt) => attempt.headers["upstash-retried"])).toEqual(["0", "1"]);
    expect(attempts.every((attempt) => attempt.verified === true)).toBe(true);
    const [first, retry] = attempts.map(signatureOf);
    expect(retry).not.toBe(first);
    const [firstClaims, retryClaims] = [decodeJwt(first!), decodeJwt(retry!)];
    expect(retryClaims.jti).not.toBe(firstClaims.jti);
    expect(retryClaims.iat).toBeGreaterThanOrEqual(firstClaims.iat!);
    expect(retryClaims).toMatchObject({ sub: firstClaims.sub, body: firstClaims.body });
  });
});

describe("dev mode of the official client", () => {
  it("recognises the emulator as its local dev server (GET /v2/keys) and publishes through it", async () => {
    const previous = process.env.QSTASH_DEV_PORT;
    process.env.QSTASH_DEV_PORT = new URL(emulator.url).port;
    try {
      // devMode makes the client probe 127.0.0.1:$QSTASH_DEV_PORT/v2/keys; a wrong answer would make
      // it try to download Upstash's binary, which fails here.
      const devClient = new Client({ devMode: true });
      const { messageId } = await devClient.publishJSON({
        url: `${destinationUrl}/dev-mode`,
        body: { ok: 1 },
      });
      await emulator.idle();
      const [delivery] = deliveriesTo("/dev-mode");
      expect(delivery!.headers["upstash-message-id"]).toBe(messageId);
      const devReceiver = new Receiver({ devMode: true });
      await expect(
        devReceiver.verify({
          signature: String(delivery!.headers["upstash-signature"]),
          body: delivery!.body,
          url: `${destinationUrl}/dev-mode`,
        }),
      ).resolves.toBe(true);
    } finally {
      if (previous === undefined) delete process.env.QSTASH_DEV_PORT;
      else process.env.QSTASH_DEV_PORT = previous;
    }
  });
});

describe("lifecycle", () => {
  it("closes cleanly with a delivery in flight, aborting it and retrying nothing", async () => {
    const other = await startQStash({ port: 0, retryBaseDelayMs: 10, tickMs: 5 });
    const otherClient = new Client({ baseUrl: other.url, token: other.token });
    await otherClient.publishJSON({ url: `${destinationUrl}/slow/closing`, body: {} });
    await waitFor(() => deliveriesTo("/slow/closing").length === 1);
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(deliveriesTo("/slow/closing")).toHaveLength(1);
    await expect(fetch(`${other.url}/v2/keys`)).rejects.toThrow();
  });
});
