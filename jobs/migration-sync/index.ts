import { z } from "zod";
import { DEFAULT_BATCH_SIZE, syncBatch } from "../../db/migration/sync";
import { MIGRATED_TABLES, type MigratedTableName } from "../../db/migration/tables";
import { publishChained, withMigrationConnections } from "../migration-chain";
import { defineJob, type JobContext, PermanentJobError } from "../types";

/** Seconds before a chain looks again: its first row waits for a parent, or rows are too recent. */
const RECHECK_SECONDS = 2;

/**
 * The incremental sync from the legacy PostgreSQL, driven by QStash with no server of ours
 * running: one message = one batch of one table (db/migration/sync.ts). While rows remain below
 * the source's horizon the job publishes the next batch of its table itself, with a deduplication
 * id made from the watermark it reached (a duplicate delivery that lost the compare-and-set
 * publishes nothing; two deliveries that both reached the same watermark publish one message) and
 * flow control `migration-sync-<table>` with parallelism 1, so each table is one chain. The
 * watermark's compare-and-set in the target stays the guarantee. Without a table, the job starts
 * every table's chain (the schedule does that every five minutes, restarting caught-up chains).
 *
 * The source is reached with `pg` over TCP (Workers' `cloudflare:sockets` under nodejs_compat);
 * in production put Hyperdrive in front of it (README, "Migration"). The target is the owner's
 * connection over Neon's WebSocket, one Pool per request.
 */
export const migrationSync = defineJob({
  name: "migration-sync",
  description: "One incremental sync batch of a legacy table into Neon; chains itself until caught up",
  payload: z
    .object({
      table: z.enum(MIGRATED_TABLES).optional(),
      batch_size: z.number().int().min(1).max(50_000).default(DEFAULT_BATCH_SIZE),
    })
    .strict(),
  schedule: { cron: "*/5 * * * *", retries: 3, payload: { batch_size: DEFAULT_BATCH_SIZE } },
  async run(ctx, payload) {
    // Not migrating (no legacy database configured): the schedule's runs have nothing to do.
    if (!ctx.legacyUrl) return { status: "skipped", reason: "LEGACY_DATABASE_URL is not set" };
    if (!ctx.ownerUrl) throw new PermanentJobError("DATABASE_OWNER_URL is not set for this worker");
    if (!payload.table) {
      if (!ctx.publisher) throw new PermanentJobError("QStash publishing is not configured (QSTASH_TOKEN)");
      const started: string[] = [];
      const slot = Math.floor(ctx.clock.now().getTime() / 300_000); // one start per table per 5 min
      for (const table of MIGRATED_TABLES) {
        await publishNext(ctx, table, payload.batch_size, `start-${slot}`, 0);
        started.push(table);
      }
      return { status: "done", started };
    }

    const table = payload.table;
    const conn = { ...ctx, legacyUrl: ctx.legacyUrl, ownerUrl: ctx.ownerUrl };
    return withMigrationConnections(conn, "migration-sync", async (source, target) => {
      const r = await syncBatch(source, target, table, { batchSize: payload.batch_size });
      ctx.logger.info("migration_sync_batch", {
        table,
        outcome: r.outcome,
        read: r.read,
        applied: r.applied,
        quarantined: r.quarantined,
        lag_seconds: r.lagSeconds,
      });
      let next: string | null = null;
      if (r.outcome === "applied" && r.more) {
        next = await publishNext(ctx, table, payload.batch_size, `${r.watermark!.at}|${r.watermark!.id}`, 0);
      } else if (r.outcome === "waiting" || (r.outcome === "caught-up" && r.pending)) {
        // One recheck per table and watermark per interval, however many deliveries ask.
        const wm = r.watermark ? `${r.watermark.at}|${r.watermark.id}` : "start";
        const slot = Math.floor(ctx.clock.now().getTime() / (RECHECK_SECONDS * 1000));
        next = await publishNext(ctx, table, payload.batch_size, `recheck-${wm}-${slot}`, RECHECK_SECONDS);
      }
      return {
        status: r.outcome === "applied" ? "done" : "skipped",
        table,
        outcome: r.outcome,
        applied: r.applied,
        quarantined: r.quarantined,
        lag_seconds: r.lagSeconds,
        pending: r.pending,
        next_message_id: next,
      };
    });
  },
});

/** The next step of `table`'s chain, at `position` (jobs/migration-chain.ts). */
const publishNext = (
  ctx: JobContext,
  table: MigratedTableName,
  batchSize: number,
  position: string,
  delaySeconds: number,
) =>
  publishChained(ctx, {
    job: "migration-sync",
    payload: { table, batch_size: batchSize },
    chain: `migration-sync-${table}`,
    position,
    delaySeconds,
  });
