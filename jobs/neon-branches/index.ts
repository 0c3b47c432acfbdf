import { z } from "zod";
import { asJobError, isTransientNeonError, neonStatusIs } from "../neon/errors";
import { type BranchPolicy, branchPolicies, DEFAULT_FEATURE_BRANCH_DAYS } from "../neon/policy";
import { defineJob, PermanentJobError } from "../types";
import { planUpkeep } from "./plan";

/**
 * Hourly upkeep of the branch policy (jobs/neon/policy.ts): deletes feature branches past their
 * days (or their own expires_at) and puts drifted read_write endpoints of managed branches back on
 * the policy's limits in one PATCH each (main's max limit is the autoscaler's while it stays in
 * the policy's range: plan.ts). Idempotent: a rerun finds the branches gone (404 counts as gone)
 * and the limits in place. Branches the policy does not name are never touched.
 */
export const neonBranches = defineJob({
  name: "neon-branches",
  description: "Deletes expired feature branches and re-applies the branch policy's endpoint limits",
  payload: z.object({}).strict(),
  schedule: { cron: "41 * * * *", retries: 3, payload: {} },
  async run(ctx) {
    const neon = ctx.neon;
    if (!neon) return { status: "skipped", reason: "the Neon API is not configured (NEON_API_KEY)" };
    let policies: readonly BranchPolicy[];
    try {
      policies = branchPolicies(ctx.settings?.featureBranchDays ?? DEFAULT_FEATURE_BRANCH_DAYS);
    } catch (err) {
      throw new PermanentJobError((err as Error).message);
    }
    const [branches, endpoints] = await Promise.all([neon.listBranches(), neon.listEndpoints()]).catch(
      (err) => Promise.reject(asJobError(err)),
    );
    const plan = planUpkeep({ branches, endpoints, policies, now: ctx.clock.now() });

    const deleted: { id: string; name: string; reason: string }[] = [];
    const updated: { endpoint_id: string; branch: string; fields: string[] }[] = [];
    const failed: { id: string; reason: string }[] = [];
    // A transient failure is thrown (QStash retries); the rerun plans again from what is left.
    const attempt = async (id: string, work: () => Promise<void>, gone: () => void) => {
      try {
        await work();
      } catch (err) {
        if (neonStatusIs(err, 404)) gone();
        else if (isTransientNeonError(err)) throw err;
        else failed.push({ id, reason: (err as Error).message });
      }
    };
    for (const b of plan.expire) {
      const done = () => {
        deleted.push(b);
      };
      await attempt(b.id, () => neon.deleteBranch(b.id).then(done), done);
    }
    for (const fix of plan.limits) {
      await attempt(
        fix.endpointId,
        async () => {
          await neon.updateEndpoint(fix.endpointId, fix.patch);
          updated.push({ endpoint_id: fix.endpointId, branch: fix.branch, fields: fix.fields });
        },
        () => {}, // the endpoint went with its branch meanwhile
      );
    }
    ctx.logger.info("neon_branches_done", {
      deleted: deleted.length,
      updated: updated.length,
      failed: failed.length,
      kept_expired: plan.keep.length,
      unmanaged: plan.unmanaged,
    });
    return {
      status: deleted.length || updated.length ? "done" : "skipped",
      deleted,
      updated,
      failed,
      kept_expired: plan.keep,
      unmanaged: plan.unmanaged,
    };
  },
});
