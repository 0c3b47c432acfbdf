import { Client } from "@upstash/qstash";
import { jobs } from "../registry";
import { jobPath, schedules as registry, type ScheduleDefinition } from "./index";

export interface SyncOptions {
  qstashUrl: string;
  qstashToken: string;
  /** Base URL of the worker as QStash reaches it, e.g. https://api.fisioflow.app */
  publicUrl: string;
  schedules?: ScheduleDefinition[];
  log?: (line: string) => void;
}

export interface SyncReport {
  upserted: string[];
  removed: string[];
}

/**
 * Makes QStash's schedules match the registry: upsert each (schedule id = job name, so a second
 * run changes nothing), then delete schedules that point at our /jobs/ URLs but are not listed.
 * Schedules of other destinations in the same QStash account are left alone.
 */
export async function syncSchedules(opts: SyncOptions): Promise<SyncReport> {
  const log = opts.log ?? (() => {});
  const list = opts.schedules ?? registry;
  for (const s of list) {
    if (!jobs[s.name]) throw new Error(`schedule ${s.name} names no job in jobs/registry.ts`);
  }
  const client = new Client({ baseUrl: opts.qstashUrl, token: opts.qstashToken });
  const base = opts.publicUrl.replace(/\/+$/, "");
  const upserted: string[] = [];
  for (const s of list) {
    await client.schedules.create({
      scheduleId: s.name,
      destination: `${base}${jobPath(s.name)}`,
      cron: s.cron,
      retries: s.retries,
      body: JSON.stringify(s.payload),
      headers: { "Content-Type": "application/json" },
    });
    upserted.push(s.name);
    log(`schedule ${s.name} (${s.cron} UTC) → ${base}${jobPath(s.name)}`);
  }
  const wanted = new Set(list.map((s) => s.name));
  const removed: string[] = [];
  for (const existing of await client.schedules.list()) {
    const ours = existing.destination.startsWith(`${base}/jobs/`);
    if (ours && !wanted.has(existing.scheduleId)) {
      await client.schedules.delete(existing.scheduleId);
      removed.push(existing.scheduleId);
      log(`removed stale schedule ${existing.scheduleId}`);
    }
  }
  return { upserted, removed };
}
