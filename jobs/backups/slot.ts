import { Cron } from "croner";

/**
 * The scheduled time a delivery at `now` is for: the latest time at or before `now` that the UTC
 * cron `pattern` fires. A late delivery, a QStash retry or a duplicate of the same run all map to
 * the same slot, so what the run names after it (a backup branch) is the same every time.
 */
export function scheduleSlot(pattern: string, now: Date): Date {
  const cron = new Cron(pattern, { timezone: "UTC", mode: "5-part", paused: true });
  // croner lists runs strictly before its reference, counting a run earlier in the reference's
  // own second: from the start of the next second, a run at exactly `now` is included.
  const reference = new Date(Math.floor(now.getTime() / 1000) * 1000 + 1000);
  const [slot] = cron.previousRuns(1, reference);
  if (!slot) throw new Error(`cron ${pattern} never fired before ${now.toISOString()}`);
  return slot;
}
