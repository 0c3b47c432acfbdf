import { type JobContext, PermanentJobError } from "../types";
import { DEFAULT_RETENTION, type RetentionPolicy, retention } from "./retention";
import { scheduleSlot } from "./slot";

/** An explicit `at` may run this far ahead of the job's clock (clock skew), no further. */
const FUTURE_TOLERANCE_MS = 60_000;

/**
 * What a run named for its schedule slot with retention needs (the backups and exports jobs): the
 * slot (the payload's `at`, else the cron time this delivery is for) and the retention policy
 * from the job's settings. A slot to come or a policy that keeps nothing is a PermanentJobError
 * (no retry fixes it), raised before anything is created.
 */
export function slotAndPolicy(
  ctx: Pick<JobContext, "clock" | "settings">,
  cron: string,
  at: string | undefined,
  what: string,
): { now: Date; slot: Date; policy: RetentionPolicy } {
  const now = ctx.clock.now();
  const slot = at ? new Date(at) : scheduleSlot(cron, now);
  if (slot.getTime() > now.getTime() + FUTURE_TOLERANCE_MS)
    throw new PermanentJobError(`${what} cannot be named for a time to come (${slot.toISOString()})`);
  const policy: RetentionPolicy = {
    daily: ctx.settings?.backupKeepDaily ?? DEFAULT_RETENTION.daily,
    weekly: ctx.settings?.backupKeepWeekly ?? DEFAULT_RETENTION.weekly,
  };
  try {
    retention([], policy); // it validates the policy
  } catch (err) {
    throw new PermanentJobError((err as Error).message);
  }
  return { now, slot, policy };
}
