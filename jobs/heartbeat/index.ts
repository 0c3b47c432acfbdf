import { z } from "zod";
import { defineJob } from "../types";

export const HEARTBEAT_KEY = "jobs:heartbeat";

/**
 * Proves the schedule → QStash → signed delivery → worker chain works: records when the last
 * scheduled heartbeat arrived and counts runs. Ops pages read it to spot a silent scheduler.
 */
export const heartbeat = defineJob({
  name: "heartbeat",
  description: "Records that scheduled delivery works (last run time, run count)",
  payload: z.object({ note: z.string().max(200).optional() }).strict(),
  schedule: { cron: "*/5 * * * *", retries: 3, payload: {} },
  async run(ctx) {
    const { redis, clock } = ctx;
    if (!redis) return { status: "skipped", reason: "redis not configured" };
    const at = clock.now().toISOString();
    const p = redis.pipeline();
    p.hset(HEARTBEAT_KEY, { last_run_at: at, last_message_id: ctx.messageId });
    p.hincrby(HEARTBEAT_KEY, "runs", 1);
    const [, runs] = await p.exec<[number, number]>();
    return { status: "done", at, runs };
  },
});
