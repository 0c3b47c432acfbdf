import { alerts } from "./alerts";
import { autoscale } from "./autoscale";
import { backups } from "./backups";
import { exportsJob } from "./exports";
import { heartbeat } from "./heartbeat";
import { metricsPoll } from "./metrics";
import { migrationCdc } from "./migration-cdc";
import { migrationSync } from "./migration-sync";
import { neonBranches } from "./neon-branches";
import { partitions } from "./partitions";
import type { JobDefinition } from "./types";

/** Every job the worker can run at POST /jobs/:name; a job with a `schedule` is also cron-driven. */
export type JobRegistry = Record<string, JobDefinition>;

export const jobs: JobRegistry = {
  [heartbeat.name]: heartbeat,
  [partitions.name]: partitions,
  [migrationSync.name]: migrationSync,
  [migrationCdc.name]: migrationCdc,
  [backups.name]: backups,
  [neonBranches.name]: neonBranches,
  [autoscale.name]: autoscale,
  [metricsPoll.name]: metricsPoll,
  [alerts.name]: alerts,
  [exportsJob.name]: exportsJob,
};
