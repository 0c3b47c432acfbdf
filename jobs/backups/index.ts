import { z } from "zod";
import type { BranchView, NeonControlPlane } from "../neon/api";
import { asJobError, isTransientNeonError, neonStatusIs } from "../neon/errors";
import { defineJob, PermanentJobError } from "../types";
import { backupName, retention } from "./retention";
import { slotAndPolicy } from "./run-slot";

/** Daily, 03:00 UTC (00:00 in São Paulo): the quiet hour of the clinics. */
export const BACKUP_CRON = "0 3 * * *";

/**
 * Backup branches (the plan's section 3.3, done the edge's way: a Neon branch is a copy-on-write
 * snapshot, no pg_dump): a branch of the default branch named for the run's slot, with no compute
 * (it costs storage only until someone restores from it), then retention (retention.ts) deletes
 * the backups it no longer keeps. The slot is the payload's `at`, else the cron time this delivery
 * is for, so a retry or duplicate of a run finds its branch already there and creates nothing; a
 * concurrent duplicate's 409 counts as done. Retention is deterministic, so a rerun deletes
 * nothing more, and a 404 on delete means another run got there first.
 */
export const backups = defineJob({
  name: "backups",
  description: "Creates the run's backup branch of the default branch (no compute) and applies retention",
  payload: z.object({ at: z.iso.datetime({ offset: true }).optional() }).strict(),
  schedule: { cron: BACKUP_CRON, retries: 5, payload: {} },
  async run(ctx, payload) {
    const neon = ctx.neon;
    if (!neon) return { status: "skipped", reason: "the Neon API is not configured (NEON_API_KEY)" };
    const { slot, policy } = slotAndPolicy(ctx, BACKUP_CRON, payload.at, "a backup");

    const name = backupName(slot);
    let branches = await neon.listBranches().catch((err) => Promise.reject(asJobError(err)));
    const parent = branches.find((b) => b.default);
    if (!parent) throw new PermanentJobError("the Neon project has no default branch");
    let created = 0;
    if (!branches.some((b) => b.name === name)) {
      const made = await createBackup(neon, name, parent.id);
      if (made.created) created = 1;
      branches = [...branches, made.branch];
    }

    const plan = retention(
      branches.map((b) => b.name),
      policy,
    );
    const byName = new Map(branches.map((b) => [b.name, b]));
    const deleted: string[] = [];
    const failed: { branch: string; reason: string }[] = [];
    for (const victim of plan.delete) {
      const b = byName.get(victim)!;
      if (b.protected) {
        failed.push({ branch: victim, reason: "protected" });
        continue;
      }
      try {
        await neon.deleteBranch(b.id);
        deleted.push(victim);
      } catch (err) {
        if (neonStatusIs(err, 404))
          deleted.push(victim); // another run deleted it
        else if (isTransientNeonError(err))
          throw err; // QStash retries; the rerun skips what is done
        else failed.push({ branch: victim, reason: (err as Error).message });
      }
    }
    ctx.logger.info("backups_done", {
      created,
      kept: plan.keep.length,
      deleted: deleted.length,
      failed: failed.length,
    });
    if (failed.length) ctx.logger.warn("backups_not_deleted", { count: failed.length });
    return {
      status: created || deleted.length ? "done" : "skipped",
      backup: name,
      created,
      kept: plan.keep.length,
      deleted: deleted.length,
      deleted_branches: deleted,
      failed,
    };
  },
});

/** Creates the backup branch, or finds it when a concurrent duplicate created it first (409). */
async function createBackup(
  neon: NeonControlPlane,
  name: string,
  parentId: string,
): Promise<{ branch: BranchView; created: boolean }> {
  try {
    return { branch: await neon.createBranch({ name, parentId, endpoint: null }), created: true };
  } catch (err) {
    if (neonStatusIs(err, 409)) {
      const branch = await neon.branchByName(name).catch(() => null);
      if (branch) return { branch, created: false };
    }
    throw asJobError(err);
  }
}
