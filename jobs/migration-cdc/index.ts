import { z } from "zod";
import {
  CDC_PUBLICATION,
  CdcTruncateError,
  cdcBatch,
  DEFAULT_CDC_SLOT,
  DEFAULT_MAX_CHANGES,
  ensureCdc,
} from "../../db/migration/cdc";
import { publishChained, withMigrationConnections } from "../migration-chain";
import { defineJob, type JobContext, PermanentJobError } from "../types";

/** Seconds before a run stopped by a missing parent (the sync has not copied it yet) looks again. */
const RECHECK_SECONDS = 5;

/**
 * CDC from the legacy PostgreSQL (db/migration/cdc.ts), driven by QStash: one message = one
 * batch read from the logical replication slot (pgoutput, plain SQL over `pg`) and applied to the
 * target, each source transaction in one target transaction with `migration.cdc.applied_lsn`
 * moved by compare-and-set, then the slot advanced. While the slot may hold more, the job
 * publishes the next batch itself, deduplicated by the position it reached (a duplicate delivery
 * that applied nothing publishes the same id again, which QStash drops) and under flow control
 * `migration-cdc-<slot>` with parallelism 1: one chain per slot. The schedule sends a message
 * every minute, restarting the chain when it has caught up. Concurrent runs are safe anyway (the
 * compare-and-set; a slot busy with another run's peek is retried).
 *
 * The first run creates the publication and the slot if missing (`ensureCdc`; never drops or
 * recreates a slot). The source role needs REPLICATION (or superuser) for the slot functions,
 * and ownership of the legacy tables to create the publication; the source needs
 * wal_level = logical. Answers "skipped" where LEGACY_DATABASE_URL is not set.
 */
export const migrationCdc = defineJob({
  name: "migration-cdc",
  description: "Applies the legacy database's changes from its logical replication slot; chains itself",
  payload: z
    .object({
      slot: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/)
        .default(DEFAULT_CDC_SLOT),
      max_changes: z.number().int().min(1).max(50_000).default(DEFAULT_MAX_CHANGES),
    })
    .strict(),
  schedule: {
    cron: "* * * * *",
    retries: 3,
    payload: { slot: DEFAULT_CDC_SLOT, max_changes: DEFAULT_MAX_CHANGES },
  },
  async run(ctx, payload) {
    if (!ctx.legacyUrl) return { status: "skipped", reason: "LEGACY_DATABASE_URL is not set" };
    if (!ctx.ownerUrl) throw new PermanentJobError("DATABASE_OWNER_URL is not set for this worker");
    const slot = payload.slot;

    const conn = { ...ctx, legacyUrl: ctx.legacyUrl, ownerUrl: ctx.ownerUrl };
    return withMigrationConnections(conn, "migration-cdc", async (source, target) => {
      const setup = await ensureCdc(source, { slot, publication: CDC_PUBLICATION });
      if (setup.createdPublication || setup.createdSlot || setup.addedTables.length)
        ctx.logger.info("migration_cdc_setup", { slot, ...setup });
      let r: Awaited<ReturnType<typeof cdcBatch>>;
      try {
        r = await cdcBatch(source, target, {
          slot,
          maxChanges: payload.max_changes,
        });
      } catch (err) {
        // No retry can replay a TRUNCATE: a person reloads the table and moves the slot on.
        if (err instanceof CdcTruncateError) throw new PermanentJobError(err.message);
        throw err;
      }
      // Ids, counts and LSNs only: logged, and answered to QStash.
      const summary = {
        slot,
        outcome: r.outcome,
        transactions: r.transactions,
        changes: r.changes,
        applied: r.applied,
        quarantined: r.quarantined,
        skipped_already_applied: r.skippedAlreadyApplied,
        skipped_by_sync: r.skippedBySync,
        applied_lsn: r.appliedLsn,
        lag_bytes: r.lagBytes,
        lag_seconds: r.lagSeconds,
      };
      ctx.logger.info("migration_cdc_batch", summary);
      const position = `${r.appliedLsn ?? "none"}|${r.slotLsn ?? "none"}`;
      let next: string | null = null;
      if (r.more) next = await publishNext(ctx, slot, payload.max_changes, position, 0);
      else if (r.outcome === "waiting") {
        // One recheck per position and interval, however many deliveries ask.
        const interval = Math.floor(ctx.clock.now().getTime() / (RECHECK_SECONDS * 1000));
        next = await publishNext(
          ctx,
          slot,
          payload.max_changes,
          `recheck-${position}-${interval}`,
          RECHECK_SECONDS,
        );
      }
      return {
        status: r.transactions > 0 ? "done" : "skipped",
        ...summary,
        more: r.more,
        next_message_id: next,
      };
    });
  },
});

/** The next step of `slot`'s chain, at `position` (jobs/migration-chain.ts). */
const publishNext = (
  ctx: JobContext,
  slot: string,
  maxChanges: number,
  position: string,
  delaySeconds: number,
) =>
  publishChained(ctx, {
    job: "migration-cdc",
    payload: { slot, max_changes: maxChanges },
    chain: `migration-cdc-${slot}`,
    position,
    delaySeconds,
  });
