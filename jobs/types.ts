import type { z } from "zod";
import type { Env } from "../functions/env";
import type { Services } from "../functions/services";

export interface JobContext {
  env: Env;
  services: Services;
  messageId: string;
  /** 0 on the first delivery, then 1, 2, ... (Upstash-Retried). */
  retried: number;
  scheduleId?: string;
  waitUntil(promise: Promise<unknown>): void;
}

/** The outcome a job reports. `skipped` = nothing to do (already done). */
export type JobResult = { status: "done" | "skipped"; [key: string]: unknown };

/**
 * A job: its payload schema and its run function. `run` throws for transient errors (QStash will
 * retry); it throws a PermanentJobError for errors no retry can fix (answered 2xx and logged).
 */
export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  payload: S;
  run(ctx: JobContext, payload: z.infer<S>): Promise<JobResult>;
}

export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

export function defineJob<S extends z.ZodType>(job: JobDefinition<S>): JobDefinition<S> {
  return job;
}
