/**
 * /v1/ops/backups and /v1/ops/restore: the backup branches of main (jobs/backups/retention.ts
 * names them) with what retention would do to each now, and restoring the default branch from one
 * of them or to a point in time. A restore always keeps what main held under
 * `pre-restore/<UTC time>`, so it can be undone by restoring from that branch.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { BACKUP_PREFIX, backupTime, retention } from "../../../jobs/backups/retention";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdempotencyKeyHeader } from "../openapi";
import { NO_STORE, withNeon } from "./neon";
import { BackupList, RestoreRequest, RestoreResult } from "./schema";

export const PRE_RESTORE_PREFIX = "pre-restore/";

/** `pre-restore/20260301T120000Z`: sortable, one per second, a valid Neon branch name. */
export function preRestoreName(at: Date): string {
  return `${PRE_RESTORE_PREFIX}${at.toISOString().slice(0, 19).replace(/[-:]/g, "")}Z`;
}

const listRoute = createRoute({
  method: "get",
  path: "/ops/backups",
  tags: ["ops"],
  summary: "The backup branches and their retention (admin)",
  description:
    "Admins only. Every branch named backup/..., newest first, with the time its name gives and " +
    "what retention would do with it now under BACKUP_KEEP_DAILY / BACKUP_KEEP_WEEKLY (keep or " +
    "delete; `ignored` for a backup/ name that is not a backup's). 503 when the Neon API is not " +
    "configured.",
  security: bearerSecurity,
  responses: {
    200: {
      description: "The backup branches",
      headers: NO_STORE,
      content: { "application/json": { schema: BackupList } },
    },
    ...errorResponses(403),
  },
});

const restoreRoute = createRoute({
  method: "post",
  path: "/ops/restore",
  tags: ["ops"],
  summary: "Restore main from a backup branch or to a point in time (admin)",
  description:
    "Admins only. Exactly one of `backup` (a backup branch's name: 404 when there is none) or " +
    "`timestamp` (ISO 8601, in the past: 422 otherwise; Neon must still hold that history). The " +
    "default branch (main) gets that data and keeps its id and endpoints; what it held before is " +
    "kept under the branch `pre-restore/<UTC time>` named in the answer (restore from it to undo). " +
    "Neon refusing the restore (e.g. a point outside its history) answers 422 with Neon's reason. " +
    "Waits until Neon has finished.\n\n" +
    "Retries: send an Idempotency-Key. A repeat with the same key and body replays the first " +
    "answer (24 h) and restores nothing again; one arriving while the first still runs answers " +
    "409. A failed restore (5xx) is not stored, so its retry runs again. Without a key a duplicate " +
    "is a second restore from the same source: main ends with the same data, whatever was written " +
    "between the two is kept under a second pre-restore branch (409 if both fall in the same second).",
  security: bearerSecurity,
  request: {
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: RestoreRequest } } },
  },
  responses: {
    200: {
      description: "Restored",
      headers: NO_STORE,
      content: { "application/json": { schema: RestoreResult } },
    },
    ...errorResponses(403, 404, 409, 422),
  },
});

export function registerBackups(app: OpenAPIHono<V1Env>) {
  app.openapi(listRoute, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const env = c.get("env");
    const policy = { daily: env.BACKUP_KEEP_DAILY, weekly: env.BACKUP_KEEP_WEEKLY };
    const backups = await withNeon(c, async (neon) =>
      (await neon.listBranches()).filter((b) => b.name.startsWith(BACKUP_PREFIX)),
    );
    const plan = retention(
      backups.map((b) => b.name),
      policy,
    );
    const keep = new Set(plan.keep);
    const data = backups
      .map((b) => ({ b, at: backupTime(b.name) }))
      .sort(
        (x, y) =>
          (y.at?.getTime() ?? Number.NEGATIVE_INFINITY) - (x.at?.getTime() ?? Number.NEGATIVE_INFINITY) ||
          y.b.createdAt.localeCompare(x.b.createdAt),
      )
      .map(({ b, at }) => ({
        id: b.id,
        name: b.name,
        time: at?.toISOString() ?? null,
        created_at: b.createdAt,
        state: b.state,
        retention:
          at === null ? ("ignored" as const) : keep.has(b.name) ? ("keep" as const) : ("delete" as const),
      }));
    return c.json({ retention: policy, data }, 200);
  });

  app.openapi(restoreRoute, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const body = c.req.valid("json");
    const { clock, logger } = c.get("services");
    const now = clock.now();
    if (body.timestamp !== undefined && Date.parse(body.timestamp) > now.getTime()) {
      throw new ApiError(
        "unprocessable_entity",
        "timestamp is in the future: a restore goes back in time only",
      );
    }
    const preserved = preRestoreName(now);
    const result = await withNeon(c, async (neon) => {
      const all = await neon.listBranches();
      const main = all.find((b) => b.default);
      if (!main) throw new ApiError("service_unavailable", "The Neon project has no default branch");
      let source: { branchId: string; timestamp?: string };
      let backup: { id: string; name: string } | null = null;
      if (body.backup !== undefined) {
        const b = all.find((x) => x.name === body.backup);
        if (!b) throw new ApiError("not_found", `No backup branch named ${body.backup}`);
        backup = { id: b.id, name: b.name };
        source = { branchId: b.id };
      } else {
        // Point in time: main's own history at that moment.
        source = { branchId: main.id, timestamp: new Date(body.timestamp!).toISOString() };
      }
      if (all.some((b) => b.name === preserved)) {
        throw new ApiError("conflict", `${preserved} already exists: a restore just ran; retry in a second`);
      }
      await neon.restoreBranch(main.id, source, preserved);
      // The restore is done: failing to read the kept branch's id must not turn it into an error
      // (a retry would restore again). Its name is what matters, and it is known.
      const kept = await neon.branchByName(preserved).catch((err: unknown) => {
        logger.warn("neon_restore_readback_failed", { status: (err as { status?: number }).status });
        return null;
      });
      return {
        branch: { id: main.id, name: main.name },
        source: { backup, timestamp: source.timestamp ?? null },
        preserved: { id: kept?.id ?? null, name: preserved },
      };
    });
    logger.warn("neon_restored", {
      branch_id: result.branch.id,
      source_branch_id: result.source.backup?.id ?? result.branch.id,
      source_timestamp: result.source.timestamp,
      preserved_branch_id: result.preserved.id,
    });
    return c.json(result, 200);
  });
}
