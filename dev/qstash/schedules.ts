import { Cron } from "croner";
import { type PublishResult, type QStashEngine, UnknownDestinationError } from "./engine";
import { compact, randomId, specFields } from "./payload";
import { type PublishSpec, SpecError } from "./spec";

interface ScheduleRecord {
  scheduleId: string;
  cron: string;
  timer: Cron;
  destination: string;
  spec: PublishSpec;
  createdAt: number;
  isPaused: boolean;
  nextScheduleTime?: number;
  lastScheduleTime?: number;
  lastScheduleStates: Record<string, "IN_PROGRESS" | "SUCCESS" | "FAIL">;
}

/**
 * Cron schedules. Croner only computes run times (no timers of its own): the emulator's tick asks
 * `fireDue()` to publish what is due by the injectable clock, so tests can move time.
 */
export class ScheduleStore {
  private readonly schedules = new Map<string, ScheduleRecord>();

  constructor(private readonly engine: QStashEngine) {
    engine.onFinished = (message, outcome) => {
      if (message.scheduleId === undefined) return;
      const schedule = this.schedules.get(message.scheduleId);
      if (schedule && message.messageId in schedule.lastScheduleStates) {
        schedule.lastScheduleStates[message.messageId] = outcome;
      }
    };
  }

  /**
   * Creates the schedule, or replaces the one with the same Upstash-Schedule-Id. A replaced
   * schedule starts active (`isPaused: false`), even if the old one was paused. Upstash's docs
   * describe an upsert both as "the old one will be discarded and new schedule will be used"
   * (TypeScript SDK examples) and as "the settings of the existing schedule will be updated"
   * (OpenAPI, Upstash-Schedule-Id); neither mentions the pause. We model the stricter reading,
   * the one a client can be hurt by: a caller that must keep a pause (schedules:sync) re-pauses,
   * which is right under either behaviour, and this emulator makes it prove that it does.
   */
  upsert(destination: string, spec: PublishSpec): string {
    if (!spec.cron) throw new SpecError("Upstash-Cron header is required");
    const timer = parseCron(spec.cron);
    const scheduleId = spec.scheduleId ?? randomId("scd_");
    const now = this.engine.now;
    this.schedules.set(scheduleId, {
      scheduleId,
      cron: spec.cron,
      timer,
      destination,
      spec: { ...spec, deduplicationId: undefined, contentBasedDeduplication: false, notBefore: undefined },
      createdAt: now,
      isPaused: false,
      nextScheduleTime: timer.nextRun(new Date(now))?.getTime(),
      lastScheduleStates: {},
    });
    return scheduleId;
  }

  get(scheduleId: string): Record<string, unknown> | undefined {
    const schedule = this.schedules.get(scheduleId);
    return schedule && schedulePayload(schedule);
  }

  list(): Record<string, unknown>[] {
    return [...this.schedules.values()].map(schedulePayload);
  }

  delete(scheduleId: string): boolean {
    return this.schedules.delete(scheduleId);
  }

  setPaused(scheduleId: string, paused: boolean): boolean {
    const schedule = this.schedules.get(scheduleId);
    if (!schedule) return false;
    if (schedule.isPaused && !paused) {
      // Runs missed while paused are skipped, as QStash does.
      schedule.nextScheduleTime = schedule.timer.nextRun(new Date(this.engine.now))?.getTime();
    }
    schedule.isPaused = paused;
    return true;
  }

  /** Publishes one message for each active schedule whose time has come (once, even if the clock
   * jumped over several runs), then moves it to its next run after now. */
  fireDue(): void {
    const now = this.engine.now;
    for (const schedule of this.schedules.values()) {
      if (schedule.isPaused || schedule.nextScheduleTime === undefined || schedule.nextScheduleTime > now)
        continue;
      let published: PublishResult[] = [];
      try {
        const result = this.engine.publishTo(schedule.destination, schedule.spec, {
          scheduleId: schedule.scheduleId,
          queueName: schedule.spec.queueName,
        });
        published = Array.isArray(result) ? result : [result];
      } catch (error) {
        // A URL group deleted after the schedule was made: this run publishes nothing.
        if (!(error instanceof UnknownDestinationError)) throw error;
      }
      schedule.lastScheduleTime = schedule.nextScheduleTime;
      schedule.lastScheduleStates = Object.fromEntries(
        published.map(({ messageId }) => [messageId, "IN_PROGRESS" as const]),
      );
      schedule.nextScheduleTime = schedule.timer.nextRun(new Date(now))?.getTime();
    }
  }
}

/** A 5-field cron in UTC, optionally prefixed with CRON_TZ=<zone> as QStash allows. */
function parseCron(expression: string): Cron {
  const match = /^\s*(?:CRON_TZ=(\S+)\s+)?(.+?)\s*$/.exec(expression)!;
  const pattern = match[2]!;
  if (pattern.split(/\s+/).length !== 5) throw new SpecError(`invalid cron expression: ${expression}`);
  try {
    return new Cron(pattern, { timezone: match[1] ?? "UTC", mode: "5-part", paused: true });
  } catch (error) {
    throw new SpecError(`invalid cron expression: ${expression}: ${(error as Error).message}`);
  }
}

function schedulePayload(schedule: ScheduleRecord): Record<string, unknown> {
  const { spec } = schedule;
  return compact({
    scheduleId: schedule.scheduleId,
    cron: schedule.cron,
    createdAt: schedule.createdAt,
    destination: schedule.destination,
    ...specFields(spec),
    retries: spec.retries,
    delay: spec.delayMs === undefined ? undefined : Math.round(spec.delayMs / 1000),
    isPaused: schedule.isPaused,
    queueName: spec.queueName,
    lastScheduleTime: schedule.lastScheduleTime,
    nextScheduleTime: schedule.nextScheduleTime,
    lastScheduleStates: schedule.lastScheduleStates,
  });
}
