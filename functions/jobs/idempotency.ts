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
    // One MULTI/EXEC, so no delivery can complete between the "done?" check and the claim.
    const tx = redis.multi();
    tx.exists(doneKey(job, messageId));
    tx.set(claimKey(job, messageId), "1", { nx: true, ex: CLAIM_TTL_SECONDS });
    const [done, claimed] = await tx.exec<[number, "OK" | null]>();
    if (done) {
      if (claimed === "OK") await redis.del(claimKey(job, messageId));
      return "done";
    }
    return claimed === "OK" ? "claimed" : "busy";
  } catch (err) {
    log.warn("job_idempotency_unavailable", { error: (err as Error).name });
    return "claimed";
  }
}

/**
 * Remembers a verified signature's `jti` until the token expires, so a captured request cannot be
 * replayed (the message id header is not covered by the signature). QStash signs every delivery
 * attempt anew, so a legitimate retry never reuses a jti. Without Redis: allowed (claimMessage logs
 * that idempotency is off); Redis failing: allowed, with a warning.
 */
export async function rememberSignature(
  redis: Redis | null,
  jti: string,
  expiresAt: number,
  log: Logger,
): Promise<"fresh" | "replayed"> {
  if (!redis) return "fresh";
  const ttl = Math.max(1, Math.ceil(expiresAt - Date.now() / 1000) + 60);
  try {
    const ok = await redis.set(`jobs:jti:${jti}`, "1", { nx: true, ex: ttl });
    return ok === "OK" ? "fresh" : "replayed";
  } catch (err) {
    log.warn("job_replay_check_unavailable", { error: (err as Error).name });
    return "fresh";
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
    const tx = redis.multi();
    tx.set(doneKey(job, messageId), JSON.stringify(result), { ex: DONE_TTL_SECONDS });
    tx.del(claimKey(job, messageId));
    await tx.exec();
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
