import { Client } from "@upstash/qstash";
import { jobs } from "../registry";
import { jobPath, publicJobUrl, schedules as registry, type ScheduleDefinition } from "./index";

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
  /** Already as the registry says: not touched. */
  unchanged: string[];
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
  // devMode false: QSTASH_DEV in the shell must not send the schedules to a local dev server.
  const client = new Client({ baseUrl: opts.qstashUrl, token: opts.qstashToken, devMode: false });
  const existing = new Map((await client.schedules.list()).map((s) => [s.scheduleId, s]));
  const upserted: string[] = [];
  const unchanged: string[] = [];
  for (const s of list) {
    const destination = publicJobUrl(opts.publicUrl, jobPath(s.name));
    const body = JSON.stringify(s.payload);
    const current = existing.get(s.name);
    if (
      current &&
      current.destination === destination &&
      current.cron === s.cron &&
      current.retries === s.retries &&
      (current.body ?? "") === body
    ) {
      // Left as it is: QStash replaces a schedule on upsert, which would undo an operator's pause.
      unchanged.push(s.name);
      continue;
    }
    await client.schedules.create({
      scheduleId: s.name,
      destination,
      cron: s.cron,
      retries: s.retries,
      body,
      headers: { "Content-Type": "application/json" },
    });
    // Keep a pause across a change of definition too.
    if (current?.isPaused) await client.schedules.pause({ schedule: s.name });
    upserted.push(s.name);
    log(`schedule ${s.name} (${s.cron} UTC) → ${destination}${current?.isPaused ? " (kept paused)" : ""}`);
  }
  const wanted = new Set(list.map((s) => s.name));
  const ourPrefix = publicJobUrl(opts.publicUrl, jobPath(""));
  const removed: string[] = [];
  for (const current of existing.values()) {
    const ours = current.destination.startsWith(ourPrefix);
    if (ours && !wanted.has(current.scheduleId)) {
      await client.schedules.delete(current.scheduleId);
      removed.push(current.scheduleId);
      log(`removed stale schedule ${current.scheduleId}`);
    }
  }
  return { upserted, unchanged, removed };
}
