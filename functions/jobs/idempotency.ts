import type { Redis } from "@upstash/redis/cloudflare";
import type { Logger } from "../lib/logger";

/** How long a completed message id is remembered (QStash retries for far less than this). */
export const DONE_TTL_SECONDS = 7 * 24 * 3600;
/** A delivery that died mid-run frees its claim after this long. */
export const CLAIM_TTL_SECONDS = 15 * 60;

const doneKey = (job: string, id: string) => `jobs:done:${job}:${id}`;
const claimKey = (job: string, id: string) => `jobs:claim:${job}:${id}`;

/**
 * Claims a QStash message for this delivery. "done": already completed; "busy": another delivery
 * holds it; "claimed": go. Without Redis the job runs (jobs are idempotent by design) and we warn.
 */
export async function claimMessage(
  redis: Redis | null,
  job: string,
  messageId: string,
  log: Logger,
): Promise<"claimed" | "done" | "busy"> {
  if (!redis) {
    log.warn("job_idempotency_disabled", { reason: "redis not configured" });
    return "claimed";
  }
  try {
    const p = redis.pipeline();
    p.exists(doneKey(job, messageId));
    p.set(claimKey(job, messageId), "1", { nx: true, ex: CLAIM_TTL_SECONDS });
    const [done, claimed] = await p.exec<[number, "OK" | null]>();
    if (done) return "done";
    return claimed === "OK" ? "claimed" : "busy";
  } catch (err) {
    log.warn("job_idempotency_unavailable", { error: (err as Error).name });
    return "claimed";
  }
}

export async function completeMessage(
  redis: Redis | null,
  job: string,
  messageId: string,
  result: unknown,
  log: Logger,
): Promise<void> {
  if (!redis) return;
  try {
    const p = redis.pipeline();
    p.set(doneKey(job, messageId), JSON.stringify(result), { ex: DONE_TTL_SECONDS });
    p.del(claimKey(job, messageId));
    await p.exec();
  } catch (err) {
    log.warn("job_idempotency_unavailable", { error: (err as Error).name });
  }
}

export async function releaseMessage(redis: Redis | null, job: string, messageId: string, log: Logger) {
  if (!redis) return;
  try {
    await redis.del(claimKey(job, messageId));
  } catch (err) {
    log.warn("job_idempotency_unavailable", { error: (err as Error).name });
  }
}
