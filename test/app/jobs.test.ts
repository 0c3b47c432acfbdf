import { Client } from "@upstash/qstash";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { monthStart, partitionName } from "../../db/partitions";
import { HEARTBEAT_KEY } from "../../jobs/heartbeat";
import { syncSchedules } from "../../jobs/schedules/sync";
import { testBackends } from "../harness/backends";
import { type Cloud, startCloud } from "../harness/cloud";
import { json } from "../harness/http";
import { signQStash as sign } from "../harness/qstash";

const backends = await testBackends();
const pglite = backends.find((b) => b.name === "pglite")!;

describe.skipIf(pglite.skip)("job receiver end to end (QStash emulator → worker)", () => {
  let cloud: Cloud;
  let redis: Redis;
  beforeAll(async () => {
    cloud = await startCloud({ backend: "pglite" });
    redis = new Redis({ url: cloud.redis.url, token: cloud.redis.token, enableTelemetry: false });
  });
  afterAll(async () => {
    await cloud?.close();
  });
  const jobUrl = (name: string) => `${cloud.workerUrl}/jobs/${name}`;
  const post = (name: string, body: string, headers: Record<string, string>) =>
    fetch(jobUrl(name), {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...headers },
    });
  const runs = async () => Number((await redis.hget(HEARTBEAT_KEY, "runs")) ?? 0);

  it("answers 401 to an unsigned POST and does not run the job", async () => {
    const before = await runs();
    const res = await post("heartbeat", "{}", {});
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("unauthorized");
    expect(await runs()).toBe(before);
  });

  it("answers 401 to a tampered body, a wrong URL, an expired token and a foreign key", async () => {
    const key = cloud.qstash.currentSigningKey;
    const cases: [string, string, Record<string, string>][] = [
      ["tampered", '{"note":"x"}', { "upstash-signature": await sign(key, jobUrl("heartbeat"), "{}") }],
      ["wrong url", "{}", { "upstash-signature": await sign(key, jobUrl("other"), "{}") }],
      [
        "expired",
        "{}",
        { "upstash-signature": await sign(key, jobUrl("heartbeat"), "{}", { expiredBy: 3600 }) },
      ],
      [
        "foreign key",
        "{}",
        { "upstash-signature": await sign("sig_not_ours_at_all", jobUrl("heartbeat"), "{}") },
      ],
    ];
    const before = await runs();
    for (const [label, body, headers] of cases) {
      const res = await post("heartbeat", body, { ...headers, "upstash-message-id": `msg_${label}` });
      expect(res.status, label).toBe(401);
    }
    expect(await runs()).toBe(before);
  });

  it("accepts the next signing key too (key rotation)", async () => {
    const res = await post("heartbeat", "{}", {
      "upstash-signature": await sign(cloud.qstash.nextSigningKey, jobUrl("heartbeat"), "{}"),
      "upstash-message-id": `msg_next_${Date.now()}`,
    });
    expect(res.status).toBe(200);
    expect((await json(res)).status).toBe("done");
  });

  it("runs a message published through QStash once, even when delivered twice", async () => {
    const before = await runs();
    const client = new Client({ baseUrl: cloud.qstash.url, token: cloud.qstash.token });
    const { messageId } = await client.publishJSON({ url: jobUrl("heartbeat"), body: {} });
    await cloud.qstash.idle(20_000);
    expect(await runs()).toBe(before + 1);
    expect(await redis.hget(HEARTBEAT_KEY, "last_message_id")).toBe(messageId);

    // The same message delivered again (QStash is at-least-once): validly signed, same id.
    const again = await post("heartbeat", "{}", {
      "upstash-signature": await sign(cloud.qstash.currentSigningKey, jobUrl("heartbeat"), "{}"),
      "upstash-message-id": messageId,
    });
    expect(again.status).toBe(200);
    expect((await json(again)).status).toBe("skipped");
    expect(await runs()).toBe(before + 1);
  });

  it("refuses a replayed signature, even under another message id, and a missing message id", async () => {
    const signature = await sign(cloud.qstash.currentSigningKey, jobUrl("heartbeat"), "{}");
    const first = await post("heartbeat", "{}", {
      "upstash-signature": signature,
      "upstash-message-id": "msg_r1",
    });
    expect(first.status).toBe(200);
    const before = await runs();
    for (const id of ["msg_r1", "msg_r2_forged"]) {
      const replay = await post("heartbeat", "{}", {
        "upstash-signature": signature,
        "upstash-message-id": id,
      });
      expect(replay.status, id).toBe(401);
    }
    const fresh = await sign(cloud.qstash.currentSigningKey, jobUrl("heartbeat"), "{}");
    const noId = await post("heartbeat", "{}", { "upstash-signature": fresh });
    expect(noId.status).toBe(400);
    expect(await runs()).toBe(before);
  });

  it("answers 2xx with the reason for a payload no retry can fix", async () => {
    const body = '{"unexpected":true}';
    const res = await post("heartbeat", body, {
      "upstash-signature": await sign(cloud.qstash.currentSigningKey, jobUrl("heartbeat"), body),
      "upstash-message-id": `msg_bad_${Date.now()}`,
    });
    expect(res.status).toBe(200);
    expect((await json(res)).status).toBe("rejected");
  });

  it("answers 404 for a signed call to an unknown job", async () => {
    const res = await post("no-such-job", "{}", {
      "upstash-signature": await sign(cloud.qstash.currentSigningKey, jobUrl("no-such-job"), "{}"),
    });
    expect(res.status).toBe(404);
  });

  it("schedules:sync creates the registry's schedules idempotently and they fire locally", async () => {
    const opts = { qstashUrl: cloud.qstash.url, qstashToken: cloud.qstash.token, publicUrl: cloud.workerUrl };
    const first = await syncSchedules(opts);
    expect(first.upserted).toContain("heartbeat");
    const client = new Client({ baseUrl: cloud.qstash.url, token: cloud.qstash.token });
    // A stale schedule of ours is removed; one of another destination is left alone.
    await client.schedules.create({
      scheduleId: "retired-job",
      destination: jobUrl("retired-job"),
      cron: "0 0 * * *",
    });
    await client.schedules.create({
      scheduleId: "elsewhere",
      destination: "http://127.0.0.1:9/x",
      cron: "0 0 * * *",
    });
    await client.schedules.pause({ schedule: "heartbeat" });
    const second = await syncSchedules(opts);
    expect(second.removed).toEqual(["retired-job"]);
    expect(second.unchanged).toEqual([
      "heartbeat",
      "partitions",
      "migration-sync",
      "migration-cdc",
      "backups",
      "neon-branches",
      "autoscale",
      "metrics-poll",
      "alerts",
      "exports",
    ]);
    expect((await client.schedules.get("heartbeat")).isPaused).toBe(true);
    await client.schedules.resume({ schedule: "heartbeat" });
    const ids = (await client.schedules.list()).map((s) => s.scheduleId).sort();
    expect(ids).toEqual([
      "alerts",
      "autoscale",
      "backups",
      "elsewhere",
      "exports",
      "heartbeat",
      "metrics-poll",
      "migration-cdc",
      "migration-sync",
      "neon-branches",
      "partitions",
    ]);
    const hb = await client.schedules.get("heartbeat");
    expect(hb.cron).toBe("*/5 * * * *");
    expect(hb.destination).toBe(jobUrl("heartbeat"));

    const before = await runs();
    await cloud.advanceQStash(5 * 60_000);
    await cloud.qstash.idle(20_000);
    expect(await runs()).toBe(before + 1);
    expect(await redis.hget(HEARTBEAT_KEY, "last_message_id")).toBeTruthy();
  });

  it("the partitions job creates the month migrate left out, through a WebSocket Pool, then has nothing to do", async () => {
    const call = async () => {
      const body = '{"months_ahead":4}';
      return post("partitions", body, {
        "upstash-signature": await sign(cloud.qstash.currentSigningKey, jobUrl("partitions"), body),
        "upstash-message-id": `msg_part_${crypto.randomUUID()}`,
      });
    };
    const first = await call();
    expect(first.status).toBe(200);
    const report = await json(first);
    // db:migrate left this month and the next 3; the job adds the 4th.
    expect(report).toMatchObject({
      status: "done",
      created: [partitionName(monthStart(new Date(), 4))],
      moved: 0,
    });
    const months = new Date(report.coverage_until).getTime() - Date.now();
    expect(months).toBeGreaterThan(4 * 28 * 24 * 3600 * 1000);
    const second = await call();
    expect(await json(second)).toMatchObject({ status: "skipped", created: [], moved: 0 });
  });
});
