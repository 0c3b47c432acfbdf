import { heartbeat } from "./heartbeat";
import { partitions } from "./partitions/job";
import type { JobDefinition } from "./types";

/** Every job the worker can run at POST /jobs/:name. Schedules live in jobs/schedules. */
export const jobs: Record<string, JobDefinition> = {
  [heartbeat.name]: heartbeat,
  [partitions.name]: partitions,
};
