import type { OpenAPIHono } from "@hono/zod-openapi";
import { Client, Receiver } from "@upstash/qstash";
import { decodeJwt } from "jose";
import { parseExportKey } from "../../jobs/exports/crypto";
import { type JobRegistry, jobs as registeredJobs } from "../../jobs/registry";
import { jobPath, publicJobUrl } from "../../jobs/schedules";
import { filesBucket } from "../../jobs/storage/bucket";
import { type JobContext, type JobPublisher, PermanentJobError } from "../../jobs/types";
import type { AppEnv } from "../context";
import type { Env } from "../env";
import { ApiError, errorResponse } from "../errors";
import { claimMessage, completeMessage, releaseMessage, rememberSignature } from "./idempotency";

const JOB_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * POST /jobs/:name, called by QStash only. The raw body is verified against Upstash-Signature
 * (current and next signing keys, the URL QStash called, expiry), then parsed with the job's zod
 * schema. A message id already completed answers 200 "skipped". Transient failures answer 500 so
 * QStash retries; failures no retry can fix answer 200 with the reason, logged.
 */
export function registerJobs(app: OpenAPIHono<AppEnv>, jobs: JobRegistry = registeredJobs) {
  app.post("/jobs/:name", async (c) => {
    const services = c.get("services");
    const { logger, redis } = services;
    const env = c.get("env");
    const name = c.req.param("name");
    const job = JOB_NAME.test(name) ? jobs[name] : undefined;

    const signature = c.req.header("upstash-signature");
    if (!signature) throw new ApiError("unauthorized", "Missing Upstash-Signature");
    const body = await c.req.text();
    // QStash signs the destination it called: behind PUBLIC_URL, that is the URL schedules:sync
    // built from it (query string included), not the one this worker sees.
    const { pathname, search } = new URL(c.req.url);
    const url = env.PUBLIC_URL ? publicJobUrl(env.PUBLIC_URL, pathname + search) : c.req.url;
    // devMode: false, always: left undefined, the library reads QSTASH_DEV from process.env (which
    // nodejs_compat fills from our vars and secrets) and, when it says "1"/"true", ignores these
    // keys and accepts Upstash's public development signing keys instead.
    const receiver = new Receiver({
      currentSigningKey: env.QSTASH_CURRENT_SIGNING_KEY,
      nextSigningKey: env.QSTASH_NEXT_SIGNING_KEY,
      devMode: false,
    });
    try {
      await receiver.verify({ signature, body, url });
    } catch {
      logger.warn("job_signature_rejected", { job: name });
      throw new ApiError("unauthorized", "Invalid Upstash-Signature");
    }
    if (!job) throw new ApiError("not_found", `Unknown job ${name}`);

    const messageId = c.req.header("upstash-message-id");
    if (!messageId || messageId.length > 200) throw new ApiError("bad_request", "Missing Upstash-Message-Id");
    const { jti, exp } = decodeJwt(signature);
    if (!jti || !exp) throw new ApiError("unauthorized", "Upstash-Signature lacks jti or exp");
    if ((await rememberSignature(redis, jti, exp, logger)) === "replayed") {
      logger.warn("job_signature_replayed", { job: name });
      throw new ApiError("unauthorized", "Upstash-Signature already used");
    }
    const retried = Number(c.req.header("upstash-retried") ?? "0") || 0;
    const scheduleId = c.req.header("upstash-schedule-id") ?? undefined;
    const log = logger.child({ job: name, message_id: messageId, retried, schedule_id: scheduleId });

    let payload: unknown;
    try {
      payload = body.trim() === "" ? {} : JSON.parse(body);
    } catch {
      log.error("job_payload_not_json");
      return c.json({ status: "rejected", reason: "payload is not JSON" }, 200);
    }
    const parsed = job.payload.safeParse(payload);
    if (!parsed.success) {
      log.error("job_payload_invalid", { issues: parsed.error.issues.length });
      return c.json({ status: "rejected", reason: "invalid payload", details: parsed.error.issues }, 200);
    }

    const claim = await claimMessage(redis, name, messageId, log);
    if (claim === "done") return c.json({ status: "skipped", reason: "message already processed" }, 200);
    if (claim === "busy") {
      // Another delivery of this message is running: answer non-2xx so QStash comes back later.
      return errorResponse(c, "conflict", "This message is being processed by another delivery");
    }

    // What the job may use, adapted from this request's services: jobs/ knows no HTTP layer.
    const ctx: JobContext = {
      logger: log,
      clock: services.clock,
      redis,
      ownerUrl: env.DATABASE_OWNER_URL,
      legacyUrl: env.LEGACY_DATABASE_URL,
      neon: services.neon,
      settings: {
        backupKeepDaily: env.BACKUP_KEEP_DAILY,
        backupKeepWeekly: env.BACKUP_KEEP_WEEKLY,
        featureBranchDays: env.FEATURE_BRANCH_TTL_DAYS,
      },
      files: filesBucket(c.env),
      exportKey: env.EXPORT_KEY ? parseExportKey(env.EXPORT_KEY_ID, env.EXPORT_KEY) : null,
      publisher: qstashPublisher(env, new URL(c.req.url).origin),
      messageId,
      retried,
      scheduleId,
      waitUntil: (p) => c.executionCtx.waitUntil(p),
    };
    try {
      const result = await job.run(ctx, parsed.data);
      await completeMessage(redis, name, messageId, result, log);
      log.info("job_done", { status: result.status });
      return c.json(result, 200);
    } catch (err) {
      if (err instanceof PermanentJobError) {
        await completeMessage(redis, name, messageId, { status: "failed", reason: err.message }, log);
        log.error("job_failed_permanently", { reason: err.message });
        return c.json({ status: "failed", reason: err.message }, 200);
      }
      await releaseMessage(redis, name, messageId, log);
      log.error("job_failed", { error: (err as Error).name, code: (err as { code?: string }).code });
      // A 5xx, so QStash retries with backoff (and moves the message to its DLQ after the last
      // retry). The answer names no internals: QStash records it in the DLQ and its logs.
      return errorResponse(c, "internal_server_error", `Job ${name} failed; QStash will retry it`);
    }
  });
}

/** Publishes follow-up messages to our own job URLs (as schedules:sync builds them), and JSON to webhooks. */
function qstashPublisher(env: Env, origin: string): JobPublisher | null {
  if (!env.QSTASH_TOKEN) return null;
  // devMode: false, as for the Receiver: QSTASH_DEV would swap our URL and token for a local dev
  // server's (and, under Node, try to start one).
  const client = new Client({
    token: env.QSTASH_TOKEN,
    ...(env.QSTASH_URL ? { baseUrl: env.QSTASH_URL } : {}),
    devMode: false,
  });
  const base = env.PUBLIC_URL ?? origin;
  return {
    async publish(job, payload, opts = {}) {
      const { messageId } = await client.publishJSON({
        url: publicJobUrl(base, jobPath(job)),
        body: payload,
        ...(opts.deduplicationId ? { deduplicationId: opts.deduplicationId } : {}),
        ...(opts.delaySeconds ? { delay: opts.delaySeconds } : {}),
        ...(opts.flowControl ? { flowControl: opts.flowControl } : {}),
      });
      return { messageId };
    },
    async publishToUrl(url, body, opts = {}) {
      const { messageId } = await client.publishJSON({
        url,
        body,
        ...(opts.deduplicationId ? { deduplicationId: opts.deduplicationId } : {}),
        ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
      });
      return { messageId };
    },
  };
}
