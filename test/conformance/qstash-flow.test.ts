/**
 * The local QStash emulator's flow control, queues, URL groups, cancelling and logs, driven only
 * through the official `@upstash/qstash` Client. The destination is a small node:http server that
 * counts the requests it is answering at once (per path), so parallelism is measured where it
 * matters: at the receiver.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client, QstashError, Receiver } from "@upstash/qstash";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QSTASH_DEV_CREDENTIALS, type QStashEmulator, startQStash } from "../../dev/qstash";

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  finishedAt?: number;
  verified: boolean;
}

let emulator: QStashEmulator;
let destination: Server;
let destinationUrl: string;
let client: Client;
let clockOffset = 0;
const deliveries: Delivery[] = [];
/** pathname → requests being answered now / the most ever at once. */
const inFlight = new Map<string, number>();
const maxInFlight = new Map<string, number>();

const deliveriesTo = (pathname: string) =>
  deliveries.filter((delivery) => delivery.path.split("?")[0] === pathname);
const bodiesOf = (pathname: string) => deliveriesTo(pathname).map((delivery) => JSON.parse(delivery.body));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

/** `/<path>?hold=<ms>`: the destination answers 200 after `hold` ms; `/fail/...` answers 500. */
beforeAll(async () => {
  const receiver = new Receiver({
    currentSigningKey: QSTASH_DEV_CREDENTIALS.currentSigningKey,
    nextSigningKey: QSTASH_DEV_CREDENTIALS.nextSigningKey,
  });
  destination = createServer(async (req, res) => {
    const at = Date.now();
    const url = new URL(req.url ?? "/", "http://destination");
    const pathname = url.pathname;
    const now = (inFlight.get(pathname) ?? 0) + 1;
    inFlight.set(pathname, now);
    maxInFlight.set(pathname, Math.max(maxInFlight.get(pathname) ?? 0, now));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const verified = await receiver
      .verify({
        signature: String(req.headers["upstash-signature"]),
        body,
        url: `${destinationUrl}${req.url}`,
      })
      .then(
        () => true,
        () => false,
      );
    const delivery: Delivery = { path: req.url ?? "/", headers: req.headers, body, at, verified };
    deliveries.push(delivery);
    await sleep(Number(url.searchParams.get("hold") ?? 0));
    delivery.finishedAt = Date.now();
    inFlight.set(pathname, (inFlight.get(pathname) ?? 1) - 1);
    if (pathname.startsWith("/fail/")) res.writeHead(500).end("nope");
    else res.writeHead(200).end("ok");
  });
  await new Promise<void>((resolve) => destination.listen(0, "127.0.0.1", resolve));
  destinationUrl = `http://127.0.0.1:${(destination.address() as AddressInfo).port}`;
  emulator = await startQStash({
    port: 0,
    retryBaseDelayMs: 20,
    tickMs: 10,
    now: () => Date.now() + clockOffset,
  });
  client = new Client({ baseUrl: emulator.url, token: emulator.token, retry: false });
});

afterAll(async () => {
  await emulator?.close();
  await new Promise((resolve) => destination?.close(resolve));
});

/** A raw call to the emulator, for the REST routes this client version has no method for. */
async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${emulator.url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${emulator.token}`, ...init.headers },
  });
}

describe("flow control", () => {
  it("never runs more than `parallelism` deliveries of a key at once (publish and publishJSON)", async () => {
    const url = `${destinationUrl}/fc/parallel?hold=120`;
    const flowControl = { key: "fc-parallel", parallelism: 2 };
    await Promise.all([
      ...[1, 2, 3].map((n) => client.publishJSON({ url, body: { n }, flowControl })),
      ...[4, 5, 6].map((n) =>
        client.publish({
          url,
          body: JSON.stringify({ n }),
          headers: { "Content-Type": "application/json" },
          flowControl,
        }),
      ),
    ]);
    await emulator.idle();
    expect(
      bodiesOf("/fc/parallel")
        .map((body) => body.n)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5, 6]);
    // Reached, never exceeded.
    expect(maxInFlight.get("/fc/parallel")).toBe(2);
    // Another key is not held back by this one: without flow control all run at once.
    await Promise.all(
      [1, 2, 3].map((n) => client.publishJSON({ url: `${destinationUrl}/fc/free?hold=120`, body: { n } })),
    );
    await emulator.idle();
    expect(maxInFlight.get("/fc/free")).toBe(3);
  });

  it("starts at most `rate` deliveries of a key per period (batchJSON)", async () => {
    const url = `${destinationUrl}/fc/rate`;
    const flowControl = { key: "fc-rate", rate: 2, period: "1s" as const };
    const started = Date.now();
    const results = await client.batchJSON([1, 2, 3, 4, 5].map((n) => ({ url, body: { n }, flowControl })));
    expect(results).toHaveLength(5);
    await emulator.idle();
    const times = deliveriesTo("/fc/rate").map((delivery) => delivery.at);
    expect(times).toHaveLength(5);
    // Any three consecutive starts span about a period: never 3 within one second. The receiver
    // reads its clock when a delivery arrives, which trails the emulator's start by a variable
    // delay on a busy machine, hence the slack (without the limit, the three would be ms apart).
    for (let i = 0; i + 2 < times.length; i++) expect(times[i + 2]! - times[i]!).toBeGreaterThanOrEqual(750);
    // ... and the first two went at once.
    expect(times[1]! - started).toBeLessThan(500);
    expect(times[4]! - started).toBeGreaterThanOrEqual(1750);
  });

  it("combines parallelism with rate, and reports both on the message (rate, period in seconds)", async () => {
    const url = `${destinationUrl}/fc/both?hold=50`;
    const flowControl = { key: "fc-both", parallelism: 1, rate: 3, period: 1 };
    const { messageId } = await client.publishJSON({ url, body: { n: 0 }, flowControl, delay: 1 });
    const message = await client.messages.get(messageId);
    expect(message).toMatchObject({ flowControlKey: "fc-both", parallelism: 1, rate: 3, period: 1 });
    await client.messages.cancel(messageId);
    for (const n of [1, 2, 3, 4]) await client.publishJSON({ url, body: { n }, flowControl });
    await emulator.idle();
    expect(maxInFlight.get("/fc/both")).toBe(1);
    const times = deliveriesTo("/fc/both").map((delivery) => delivery.at);
    expect(times).toHaveLength(4);
    expect(times[3]! - times[0]!).toBeGreaterThanOrEqual(750);
  });

  it("applies a schedule's flow control to the messages it fires", async () => {
    const { scheduleId } = await client.schedules.create({
      destination: `${destinationUrl}/fc/scheduled`,
      cron: "* * * * *",
      flowControl: { key: "fc-schedule", parallelism: 1, rate: 5, period: "1m" },
    });
    expect(await client.schedules.get(scheduleId)).toMatchObject({
      flowControlKey: "fc-schedule",
      parallelism: 1,
      rate: 5,
      period: 60,
    });
    clockOffset += 61_000;
    await emulator.tick();
    await emulator.idle();
    expect(deliveriesTo("/fc/scheduled")).toHaveLength(1);
    expect(await client.flowControl.get("fc-schedule")).toMatchObject({
      flowControlKey: "fc-schedule",
      parallelismMax: 1,
      rateMax: 5,
      ratePeriod: 60,
      rateCount: 1,
    });
    await client.schedules.delete(scheduleId);
  });

  it("gets, lists, pauses and resumes a key, answering with the client's shapes", async () => {
    const url = `${destinationUrl}/fc/api?hold=150`;
    const flowControl = { key: "fc-api", parallelism: 1 };
    for (const n of [1, 2, 3, 4]) await client.publishJSON({ url, body: { n }, flowControl });
    await waitFor(() => deliveriesTo("/fc/api").length === 1);
    const info = await client.flowControl.get("fc-api");
    expect(info).toEqual({
      flowControlKey: "fc-api",
      waitListSize: 3,
      parallelismMax: 1,
      parallelismCount: 1,
      rateMax: 0,
      rateCount: 0,
      ratePeriod: 1,
      ratePeriodStart: expect.any(Number),
      isPaused: false,
      isPinnedParallelism: false,
      isPinnedRate: false,
    });
    // The list endpoint (GET /v2/flowControl, optionally ?search=), which 2.12 has no method for.
    const listed = (await (await api("/v2/flowControl?search=fc-a")).json()) as { flowControlKey: string }[];
    expect(listed.map((entry) => entry.flowControlKey)).toEqual(["fc-api"]);

    await client.flowControl.pause("fc-api");
    await waitFor(() => deliveriesTo("/fc/api")[0]!.finishedAt !== undefined);
    await sleep(300);
    expect(deliveriesTo("/fc/api")).toHaveLength(1);
    expect(await client.flowControl.get("fc-api")).toMatchObject({
      isPaused: true,
      waitListSize: 3,
      parallelismCount: 0,
    });
    await client.flowControl.resume("fc-api");
    await emulator.idle();
    expect(bodiesOf("/fc/api").map((body) => body.n)).toEqual([1, 2, 3, 4]);
    expect(await client.flowControl.get("fc-api")).toMatchObject({ isPaused: false, waitListSize: 0 });

    await expect(client.flowControl.get("no-such-key")).rejects.toMatchObject({ status: 404 });
    await expect(client.flowControl.getGlobalParallelism()).resolves.toEqual({
      parallelismMax: 0,
      parallelismCount: 0,
    });
  });

  it("resetRate ends the period at once; pin overrides the messages' configuration until unpinned", async () => {
    const url = `${destinationUrl}/fc/reset`;
    const flowControl = { key: "fc-reset", rate: 1, period: "1m" as const };
    await client.publishJSON({ url, body: { n: 1 }, flowControl });
    await client.publishJSON({ url, body: { n: 2 }, flowControl });
    await waitFor(() => deliveriesTo("/fc/reset").length === 1);
    await sleep(200);
    expect(deliveriesTo("/fc/reset")).toHaveLength(1);
    expect(await client.flowControl.get("fc-reset")).toMatchObject({
      rateMax: 1,
      rateCount: 1,
      ratePeriod: 60,
      waitListSize: 1,
    });
    await client.flowControl.resetRate("fc-reset");
    await emulator.idle();
    expect(bodiesOf("/fc/reset").map((body) => body.n)).toEqual([1, 2]);

    // Pinned: a rate of 5 per minute although the messages ask for 1.
    await client.flowControl.pin("fc-reset", { rate: 5, period: 60 });
    expect(await client.flowControl.get("fc-reset")).toMatchObject({ isPinnedRate: true, rateMax: 5 });
    await client.flowControl.resetRate("fc-reset");
    for (const n of [3, 4, 5]) await client.publishJSON({ url, body: { n }, flowControl });
    await emulator.idle();
    expect(bodiesOf("/fc/reset").map((body) => body.n)).toEqual([1, 2, 3, 4, 5]);
    await client.flowControl.unpin("fc-reset", { rate: true });
    expect(await client.flowControl.get("fc-reset")).toMatchObject({ isPinnedRate: false, rateMax: 1 });
  });
});

describe("queues", () => {
  it("delivers a queue in order, at most `parallelism` at a time; pauses, resumes, lists, deletes", async () => {
    const queue = client.queue({ queueName: "q-parallel" });
    await queue.upsert({ parallelism: 2 });
    const url = `${destinationUrl}/q/parallel?hold=100`;
    const ids: string[] = [];
    // Enqueued while paused, so on a loaded machine the first cannot finish before the second is in.
    await queue.pause();
    for (const n of [1, 2, 3, 4, 5, 6]) ids.push((await queue.enqueueJSON({ url, body: { n } })).messageId);
    await queue.resume();
    await emulator.idle();
    expect(maxInFlight.get("/q/parallel")).toBe(2);
    // Started in enqueue order (the emulator's ACTIVE logs, oldest last) ...
    const { logs } = await client.logs({ filter: { queueName: "q-parallel", state: "ACTIVE" } });
    expect(logs.map((log) => log.messageId).reverse()).toEqual(ids);
    // ... and arriving so too, up to the two that run together swapping places.
    const arrived = bodiesOf("/q/parallel").map((body) => body.n as number);
    expect([...arrived].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    for (const [index, n] of arrived.entries()) expect(Math.abs(n - 1 - index)).toBeLessThanOrEqual(1);
    const info = await queue.get();
    expect(info).toEqual({
      name: "q-parallel",
      parallelism: 2,
      lag: 0,
      paused: false,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    expect((await queue.list()).map((entry) => entry.name)).toContain("q-parallel");

    await queue.pause();
    await queue.enqueue({ url: `${destinationUrl}/q/paused`, body: "a" });
    await queue.enqueue({ url: `${destinationUrl}/q/paused`, body: "b" });
    await sleep(200);
    expect(deliveriesTo("/q/paused")).toHaveLength(0);
    expect(await queue.get()).toMatchObject({ paused: true, lag: 2 });
    await queue.resume();
    await emulator.idle();
    expect(deliveriesTo("/q/paused").map((delivery) => delivery.body)).toEqual(["a", "b"]);

    await queue.delete();
    await expect(queue.get()).rejects.toMatchObject({ status: 404 });
  });

  it("batches into a queue by queueName, one at a time in order", async () => {
    await client.queue({ queueName: "q-batch" }).upsert({ parallelism: 1 });
    const url = `${destinationUrl}/q/batch?hold=60`;
    const results = await client.batchJSON(
      [1, 2, 3, 4].map((n) => ({ url, body: { n }, queueName: "q-batch" })),
    );
    expect(results.map((result) => result.messageId)).toHaveLength(4);
    await emulator.idle();
    const delivered = deliveriesTo("/q/batch");
    expect(delivered.map((delivery) => JSON.parse(delivery.body).n)).toEqual([1, 2, 3, 4]);
    for (let i = 1; i < delivered.length; i++)
      expect(delivered[i]!.at).toBeGreaterThanOrEqual(delivered[i - 1]!.finishedAt!);
    expect(maxInFlight.get("/q/batch")).toBe(1);
  });
});

describe("URL groups", () => {
  it("adds, gets, lists, fans a publish out to each endpoint, removes endpoints and deletes", async () => {
    const a = `${destinationUrl}/group/a`;
    const b = `${destinationUrl}/group/b`;
    await client.urlGroups.addEndpoints({ name: "clinics", endpoints: [{ name: "a", url: a }, { url: b }] });
    const group = await client.urlGroups.get("clinics");
    expect(group).toEqual({
      name: "clinics",
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
      endpoints: [{ name: "a", url: a }, { url: b }],
    });
    expect((await client.urlGroups.list()).map((entry) => entry.name)).toContain("clinics");

    const results = await client.publishJSON({ urlGroup: "clinics", body: { hello: "group" } });
    expect(results).toHaveLength(2);
    expect(results.map((result) => result.url)).toEqual([a, b]);
    expect(results[0]!.messageId).not.toBe(results[1]!.messageId);
    await emulator.idle();
    for (const [index, path] of ["/group/a", "/group/b"].entries()) {
      const [delivery, ...more] = deliveriesTo(path);
      expect(more).toHaveLength(0);
      expect(JSON.parse(delivery!.body)).toEqual({ hello: "group" });
      expect(delivery!.headers["upstash-message-id"]).toBe(results[index]!.messageId);
      expect(delivery!.verified).toBe(true);
    }
    const { logs } = await client.logs({ filter: { urlGroup: "clinics", state: "DELIVERED" } });
    expect(logs.map((log) => log.messageId).sort()).toEqual(results.map((result) => result.messageId).sort());
    expect(logs.find((log) => log.url === a)).toMatchObject({ urlGroup: "clinics", endpointName: "a" });

    await client.urlGroups.removeEndpoints({ name: "clinics", endpoints: [{ name: "a" }] });
    expect((await client.urlGroups.get("clinics")).endpoints).toEqual([{ url: b }]);
    const single = await client.publish({ urlGroup: "clinics", body: "only b" });
    expect(single.map((result) => result.url)).toEqual([b]);
    await emulator.idle();
    expect(deliveriesTo("/group/b").map((delivery) => delivery.body)).toEqual([
      JSON.stringify({ hello: "group" }),
      "only b",
    ]);

    await client.urlGroups.delete("clinics");
    await expect(client.urlGroups.get("clinics")).rejects.toMatchObject({ status: 404 });
    const error = await client.publish({ urlGroup: "clinics", body: "x" }).catch((e) => e);
    expect(error).toBeInstanceOf(QstashError);
    expect((error as QstashError).status).toBe(404);
  });
});

describe("cancelling messages", () => {
  const later = (path: string, extra: Record<string, unknown> = {}) =>
    client.publishJSON({ url: `${destinationUrl}${path}`, body: {}, delay: "1m", ...extra });

  it("cancels by id (delete), by ids (deleteMany), by filter, and all (deleteAll); none is delivered", async () => {
    const one = await later("/cancel/one");
    await client.messages.delete(one.messageId);
    await expect(client.messages.get(one.messageId)).rejects.toMatchObject({ status: 404 });

    const many = await Promise.all([later("/cancel/many"), later("/cancel/many"), later("/cancel/kept")]);
    await expect(client.messages.deleteMany([many[0]!.messageId, many[1]!.messageId])).resolves.toBe(2);
    await expect(client.messages.get(many[2]!.messageId)).resolves.toMatchObject({
      url: `${destinationUrl}/cancel/kept`,
    });

    await Promise.all([
      later("/cancel/by-url"),
      later("/cancel/by-url"),
      later("/cancel/by-label", { label: "bulk" }),
    ]);
    await expect(
      client.messages.cancel({ filter: { url: `${destinationUrl}/cancel/by-url` } }),
    ).resolves.toEqual({ cancelled: 2 });
    await expect(client.messages.cancel({ filter: { label: "bulk" } })).resolves.toEqual({ cancelled: 1 });

    // A message held by a paused flow-control key, cancelled by its key.
    await client.flowControl.pause("fc-cancel");
    await client.publishJSON({
      url: `${destinationUrl}/cancel/flow`,
      body: {},
      flowControl: { key: "fc-cancel", parallelism: 1 },
    });
    await expect(client.messages.cancel({ filter: { flowControlKey: "fc-cancel" } })).resolves.toEqual({
      cancelled: 1,
    });
    await client.flowControl.resume("fc-cancel");

    await later("/cancel/all");
    // Everything still pending: /cancel/kept and /cancel/all.
    await expect(client.messages.deleteAll()).resolves.toBe(2);
    await emulator.idle();
    await sleep(100);
    expect(deliveries.filter((delivery) => delivery.path.startsWith("/cancel/"))).toHaveLength(0);
    const { logs } = await client.logs({ filter: { state: "CANCELED", path: "/cancel/many" } });
    expect(logs.map((log) => log.messageId).sort()).toEqual([many[0]!.messageId, many[1]!.messageId].sort());
  });
});

describe("logs", () => {
  it("filters by state, destination URL and message id, and pages with a cursor", async () => {
    const url = `${destinationUrl}/logs/ok`;
    const ok = await Promise.all([1, 2, 3].map((n) => client.publishJSON({ url, body: { n } })));
    const failed = await client.publishJSON({ url: `${destinationUrl}/fail/logs`, body: {}, retries: 0 });
    await emulator.idle();

    const delivered = await client.logs({ filter: { url, state: "DELIVERED" } });
    expect(delivered.logs.map((log) => log.messageId).sort()).toEqual(ok.map((r) => r.messageId).sort());
    expect(delivered.logs.every((log) => log.state === "DELIVERED" && log.url === url)).toBe(true);
    expect(delivered.cursor).toBeUndefined();

    const failures = await client.logs({ filter: { state: "FAILED" } });
    expect(failures.logs.map((log) => log.messageId)).toEqual([failed.messageId]);

    const byId = await client.logs({ messageIds: [ok[0]!.messageId] });
    expect(byId.logs.map((log) => log.state)).toEqual(["DELIVERED", "ACTIVE", "CREATED"]);
    expect(byId.logs.every((log) => log.messageId === ok[0]!.messageId)).toBe(true);

    // 9 logs for this URL (3 messages x CREATED, ACTIVE, DELIVERED), newest first, 4 a page.
    const all: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.logs({ filter: { url }, count: 4, cursor });
      all.push(...page.logs.map((log) => `${log.messageId}/${log.state}/${log.time}`));
      cursor = page.cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(all).toHaveLength(9);
    expect(new Set(all).size).toBe(9);
    const times = all.map((entry) => Number(entry.split("/")[2]));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    // events() is the deprecated name of the same call.
    const events = await client.events({ filter: { url, state: "DELIVERED" } });
    expect(events.events.map((log) => log.messageId).sort()).toEqual(ok.map((r) => r.messageId).sort());
  });

  it("shows redacted headers and body as REDACTED:<sha256>, delivering the originals", async () => {
    const body = JSON.stringify({ cpf: "123.456.789-00" });
    const { messageId } = await client.publish({
      url: `${destinationUrl}/redacted/some`,
      body,
      headers: { Authorization: "Bearer s3cret", "X-Trace": "t-1", "Content-Type": "application/json" },
      redact: { body: true, header: ["Authorization"] },
      delay: 1,
    });
    const pending = await client.messages.get(messageId);
    expect(pending.body).toBe(`REDACTED:${sha256(body)}`);
    expect(pending.header?.Authorization).toEqual([`REDACTED:${sha256("Bearer s3cret")}`]);
    expect(pending.header?.["X-Trace"]).toEqual(["t-1"]);
    await emulator.idle();
    const [delivery] = deliveriesTo("/redacted/some");
    expect(delivery!.body).toBe(body);
    expect(delivery!.headers.authorization).toBe("Bearer s3cret");
    expect(delivery!.verified).toBe(true);
    const { logs } = await client.logs({ messageIds: [messageId] });
    expect(logs.length).toBeGreaterThan(0);
    for (const log of logs) {
      expect(log.body).toBe(`REDACTED:${sha256(body)}`);
      expect(log.header?.Authorization).toBe(`REDACTED:${sha256("Bearer s3cret")}`);
      expect(log.header?.["X-Trace"]).toBe("t-1");
    }

    // header: true redacts every header; the DLQ keeps them redacted, a DLQ retry delivers originals.
    const failed = await client.publishJSON({
      url: `${destinationUrl}/fail/redacted`,
      body: { secret: 1 },
      headers: { "X-Secret": "k" },
      redact: { header: true },
      retries: 0,
    });
    await emulator.idle();
    const [log] = (await client.logs({ messageIds: [failed.messageId] })).logs;
    expect(log!.header).toEqual({
      "Content-Type": `REDACTED:${sha256("application/json")}`,
      "X-Secret": `REDACTED:${sha256("k")}`,
    });
    expect(log!.body).toBe(JSON.stringify({ secret: 1 }));
    const { messages } = await client.dlq.listMessages({
      filter: { url: `${destinationUrl}/fail/redacted` },
    });
    expect(messages[0]!.header?.["X-Secret"]).toEqual([`REDACTED:${sha256("k")}`]);
    await client.dlq.retry(messages[0]!.dlqId);
    await emulator.idle();
    expect(deliveriesTo("/fail/redacted").map((delivery) => delivery.headers["x-secret"])).toEqual([
      "k",
      "k",
    ]);
  });
});
