/**
 * The cron registry: which job runs when. `npm run schedules:sync` upserts these into QStash
 * (schedule id = job name) and removes schedules of ours that are no longer listed. Cron is UTC.
 */
export interface ScheduleDefinition {
  /** Job name: the schedule id and the path /jobs/<name>. */
  name: string;
  cron: string;
  retries: number;
  payload: Record<string, unknown>;
}

export const schedules: ScheduleDefinition[] = [
  { name: "heartbeat", cron: "*/5 * * * *", retries: 3, payload: {} },
  { name: "partitions", cron: "17 3 * * *", retries: 5, payload: { months_ahead: 3 } },
];

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
