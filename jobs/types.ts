import type { Redis } from "@upstash/redis/cloudflare";
import type { z } from "zod";
import type { ExportKey } from "./exports/crypto";
import type { NeonControlPlane } from "./neon/api";
import type { FileBucket } from "./storage/bucket";

/** Structured log lines: ids, codes and numbers only (no names, CPF, email, clinical text). */
export interface JobLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Publishes a follow-up message to one of our jobs through QStash. */
export interface JobPublisher {
  publish(
    job: string,
    payload: unknown,
    opts?: {
      deduplicationId?: string;
      delaySeconds?: number;
      /** QStash flow control: at most `parallelism` deliveries of this key at a time. */
      flowControl?: { key: string; parallelism: number };
    },
  ): Promise<{ messageId: string }>;
  /**
   * Publishes a JSON body to any URL through QStash (the alert webhooks): QStash signs and
   * delivers it, retrying on failure. Optional: a publisher without it cannot reach webhooks.
   */
  publishToUrl?(
    url: string,
    body: unknown,
    opts?: {
      /** Upstash-Deduplication-Id: a second publish with the same id is dropped by QStash. */
      deduplicationId?: string;
      /** Delivery attempts after the first (QStash's default when unset). */
      retries?: number;
    },
  ): Promise<{ messageId: string }>;
}

/**
 * What a job may use. Jobs declare it here and the caller (the QStash receiver in functions/, a
 * script, a test) provides it, so jobs/ never reaches up into the HTTP layer.
 */
export interface JobContext {
  logger: JobLogger;
  clock: { now(): Date };
  /** Upstash Redis, or null where none is configured (a job must cope, e.g. answer "skipped"). */
  redis: Redis | null;
  /** The owner role's connection string (DATABASE_OWNER_URL), for maintenance jobs only. */
  ownerUrl?: string;
  /** The legacy PostgreSQL the migration reads (LEGACY_DATABASE_URL), for the migration jobs only. */
  legacyUrl?: string;
  /** Neon's API for the project (control-plane jobs), or null where it is not configured. */
  neon?: NeonControlPlane | null;
  /** What the control-plane jobs keep and expire (BACKUP_KEEP_DAILY/WEEKLY, FEATURE_BRANCH_TTL_DAYS). */
  settings?: { backupKeepDaily: number; backupKeepWeekly: number; featureBranchDays: number };
  /** The R2 bucket (FILES binding) the exports go to, or null where none is bound. */
  files?: FileBucket | null;
  /** The key exports are encrypted with (EXPORT_KEY, EXPORT_KEY_ID), or null where unset. */
  exportKey?: ExportKey | null;
  /** null where QStash is not configured for publishing (QSTASH_URL/QSTASH_TOKEN unset). */
  publisher: JobPublisher | null;
  messageId: string;
  /** 0 on the first delivery, then 1, 2, ... (Upstash-Retried). */
  retried: number;
  scheduleId?: string;
  /** Work that may finish after the answer (ExecutionContext.waitUntil on Workers). */
  waitUntil(promise: Promise<unknown>): void;
}

/** The outcome a job reports. `skipped` = nothing to do (already done). */
export type JobResult = { status: "done" | "skipped"; [key: string]: unknown };

/** When QStash calls a job on its own: UTC cron, retries, and the payload it sends. */
export interface JobSchedule<P> {
  cron: string;
  retries: number;
  payload: P;
}

/**
 * A job: its payload schema, its run function and, for a scheduled job, its schedule (declared
 * here, beside the job, so there is no second list of names to keep in step). `run` throws for
 * transient errors (QStash will retry); it throws a PermanentJobError for errors no retry can fix
 * (answered 2xx and logged).
 */
export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  payload: S;
  schedule?: JobSchedule<z.input<S>>;
  run(ctx: JobContext, payload: z.infer<S>): Promise<JobResult>;
}

export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

export function defineJob<S extends z.ZodType>(job: JobDefinition<S>): JobDefinition<S> {
  return job;
}
