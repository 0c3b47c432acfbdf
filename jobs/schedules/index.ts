/**
 * The cron registry: which job runs when, read off the jobs themselves (`schedule` in each
 * `defineJob`). `npm run schedules:sync` upserts these into QStash (schedule id = job name) and
 * removes schedules of ours that are no longer listed. Cron is UTC.
 */
import { type JobRegistry, jobs } from "../registry";

export interface ScheduleDefinition {
  /** Job name: the schedule id and the path /jobs/<name>. */
  name: string;
  cron: string;
  retries: number;
  payload: unknown;
}

/** The schedules of every job in `registry` that declares one, in registry order. */
export function schedulesOf(registry: JobRegistry): ScheduleDefinition[] {
  return Object.values(registry).flatMap((job) =>
    job.schedule
      ? [
          {
            name: job.name,
            cron: job.schedule.cron,
            retries: job.schedule.retries,
            payload: job.schedule.payload,
          },
        ]
      : [],
  );
}

export const schedules: ScheduleDefinition[] = schedulesOf(jobs);

export function jobPath(name: string): string {
  return `/jobs/${name}`;
}

/**
 * The URL QStash calls, and signs, for a path of ours: PUBLIC_URL and the path joined as written
 * (a path prefix in PUBLIC_URL is kept). schedules:sync builds destinations with it and the job
 * receiver rebuilds the signed URL with it, so the two cannot disagree.
 */
export function publicJobUrl(publicUrl: string, path: string): string {
  return `${publicUrl.replace(/\/+$/, "")}${path}`;
}
