/**
 * What the branch upkeep job should do, decided from one listing of branches and endpoints: pure,
 * so every rule is tested without Neon. Only branches the policy names are touched (policyFor);
 * backups, restore leftovers and anything else someone made by hand are counted and left alone.
 */
import type { BranchView, EndpointView } from "../neon/api";
import { type BranchPolicy, driftOf, type EndpointLimits, isExpired, policyFor } from "../neon/policy";

export interface UpkeepPlan {
  /** Feature branches past their policy's days, or past their own expires_at. */
  expire: { id: string; name: string; reason: "policy" | "expires_at" }[];
  /** Expired but left alone (Neon refuses to delete them: a protected or the default branch). */
  keep: { id: string; name: string; reason: string }[];
  /** read_write endpoints of managed branches whose settings drifted: the PATCH that fixes each. */
  limits: {
    endpointId: string;
    branchId: string;
    branch: string;
    fields: (keyof EndpointLimits)[];
    patch: EndpointLimits;
  }[];
  /** Branches the policy does not manage (never touched). */
  unmanaged: number;
}

/**
 * The policy's limits for an endpoint, or null when it has not drifted. The default branch's main
 * endpoint is the autoscaler's (jobs/autoscale): its max limit may sit anywhere from the policy's
 * min to its max, and only a max outside that range is drift (clamped into it). Resetting it to the
 * policy's max every hour would undo each scale-down and start a cooldown each time.
 */
export function endpointFix(
  policy: BranchPolicy,
  endpoint: EndpointLimits,
  autoscaled: boolean,
): { fields: (keyof EndpointLimits)[]; patch: EndpointLimits } | null {
  const want = { ...policy.endpoint };
  if (autoscaled) {
    const max = endpoint.autoscaling_limit_max_cu;
    want.autoscaling_limit_max_cu = Math.min(
      Math.max(max, policy.endpoint.autoscaling_limit_min_cu),
      policy.endpoint.autoscaling_limit_max_cu,
    );
  }
  const drift = driftOf({ ...policy, endpoint: want }, endpoint);
  // The whole triple goes in one PATCH: min and max together, so no intermediate state (a new
  // min above the old max) is ever sent and refused.
  return drift.length ? { fields: drift.map((d) => d.field), patch: want } : null;
}

export function planUpkeep(input: {
  branches: readonly BranchView[];
  endpoints: readonly EndpointView[];
  policies: readonly BranchPolicy[];
  now: Date;
}): UpkeepPlan {
  const plan: UpkeepPlan = { expire: [], keep: [], limits: [], unmanaged: 0 };
  const managed = new Map<string, { branch: BranchView; policy: BranchPolicy }>();
  for (const b of input.branches) {
    const policy = policyFor(b.name, input.policies);
    if (!policy) {
      plan.unmanaged++;
      continue;
    }
    const reason = policy.expiresAfterDays ? expiry(policy, b, input.now) : null;
    if (reason) {
      if (b.default || b.protected) {
        plan.keep.push({ id: b.id, name: b.name, reason: b.default ? "default branch" : "protected" });
      } else {
        plan.expire.push({ id: b.id, name: b.name, reason });
        continue; // its endpoints go with it
      }
    }
    managed.set(b.id, { branch: b, policy });
  }
  for (const e of input.endpoints) {
    const m = managed.get(e.branchId);
    if (!m || e.type !== "read_write") continue;
    const autoscaled = m.branch.default && m.policy.name === "main";
    const fix = endpointFix(m.policy, e, autoscaled);
    if (fix) plan.limits.push({ endpointId: e.id, branchId: m.branch.id, branch: m.branch.name, ...fix });
  }
  return plan;
}

function expiry(policy: BranchPolicy, b: BranchView, now: Date): "policy" | "expires_at" | null {
  if (isExpired(policy, b.createdAt, now)) return "policy";
  if (b.expiresAt && Date.parse(b.expiresAt) <= now.getTime()) return "expires_at";
  return null;
}
