import { z } from "zod";
import { slotAndPolicy } from "../backups/run-slot";
import { withOwnerLock } from "../owner-session";
import { defineJob } from "../types";
import { exportTables } from "./export";
import { applyExportRetention } from "./list";
import { exportId, manifestKey } from "./manifest";

/** Daily, 04:00 UTC: an hour after the backup branch (jobs/backups), in the clinics' quiet hours. */
export const EXPORT_CRON = "0 4 * * *";
const LOCK_KEY = 7_246_301_018;

/**
 * The encrypted logical export (off-site copy outside Neon): every table COPYed in one snapshot,
 * gzip-compressed and AES-256-GCM encrypted as it streams to R2 (jobs/exports/README.md), then the
 * manifest, then retention as for backup branches. Named for its schedule slot like backups, so
 * a retry or a duplicate delivery of a finished run finds its manifest and does nothing; a retry
 * of a failed run starts the export again (multipart uploads of the failed try were aborted).
 */
export const exportsJob = defineJob({
  name: "exports",
  description: "Encrypted logical export of every table to R2 (COPY, gzip, AES-256-GCM) with retention",
  payload: z
    .object({
      at: z.iso.datetime({ offset: true }).optional(),
      /** Smaller pages for tests; the default holds about 4 MiB of COPY output at a time. */
      page_bytes: z
        .number()
        .int()
        .min(1024)
        .max(64 << 20)
        .optional(),
    })
    .strict(),
  schedule: { cron: EXPORT_CRON, retries: 3, payload: {} },
  async run(ctx, payload) {
    const bucket = ctx.files;
    if (!bucket) return { status: "skipped", reason: "no R2 bucket is bound (FILES)" };
    if (!ctx.exportKey) return { status: "skipped", reason: "no export key is configured (EXPORT_KEY)" };
    if (!ctx.ownerUrl) return { status: "skipped", reason: "DATABASE_OWNER_URL is not set" };
    const { now, slot, policy } = slotAndPolicy(ctx, EXPORT_CRON, payload.at, "an export");
    const id = exportId(slot);
    if (await bucket.head(manifestKey(id)))
      return { status: "skipped", reason: "export already complete", id };

    const key = ctx.exportKey;
    const run = await withOwnerLock(ctx, ctx.ownerUrl, LOCK_KEY, async (client) => {
      const manifest = await exportTables(client, {
        bucket,
        key,
        id,
        logger: ctx.logger,
        clock: ctx.clock,
        pageBytes: payload.page_bytes,
      });
      // Still under the lock: no other run is writing while retention decides.
      return { manifest, deleted: await applyExportRetention(bucket, policy, now) };
    });
    if (run.busy) return { status: "skipped", reason: "another export is running" };
    const { manifest, deleted } = run.value;
    const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
    const bytes = manifest.tables.reduce((n, t) => n + t.object_bytes, 0);
    ctx.logger.info("export_done", {
      id,
      tables: manifest.tables.length,
      rows,
      bytes,
      deleted: deleted.length,
    });
    return { status: "done", id, tables: manifest.tables.length, rows, bytes, deleted };
  },
});
