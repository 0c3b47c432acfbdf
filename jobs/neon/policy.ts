/**
 * The branch policy as data (the plan's section 1.3, its YAML corrected): which branches exist per
 * environment, their parents, and their endpoint's compute limits and suspend timeout — Neon's
 * own field names (`autoscaling_limit_min_cu` / `autoscaling_limit_max_cu` on the endpoint,
 * `suspend_timeout_seconds`), typed by @neon/sdk, so a policy can be sent to the API as it is.
 * Pure: creating branches, applying limits and deleting expired ones is the control plane's job.
 */
import type { BranchCreateRequestEndpointOptions } from "@neon/sdk/raw";

/** What the policy fixes on a branch's read-write endpoint. */
export type EndpointLimits = Required<
  Pick<
    BranchCreateRequestEndpointOptions,
    "autoscaling_limit_min_cu" | "autoscaling_limit_max_cu" | "suspend_timeout_seconds"
  >
>;

export interface BranchPolicy {
  /** A branch name, or a prefix pattern ending in `/*` (feature/*). */
  name: string;
  /** The branch it is created from (null: the project's root branch). */
  parent: string | null;
  endpoint: EndpointLimits;
  /** Feature branches only: deleted this many days after creation. */
  expiresAfterDays?: number;
}

/** Neon's compute sizes: 0.25 and 0.5, then whole units. */
export function isComputeSize(cu: number): boolean {
  return cu === 0.25 || cu === 0.5 || (Number.isInteger(cu) && cu >= 1 && cu <= 56);
}

export const DEFAULT_FEATURE_BRANCH_DAYS = 7;

export function branchPolicies(featureDays = DEFAULT_FEATURE_BRANCH_DAYS): readonly BranchPolicy[] {
  if (!Number.isInteger(featureDays) || featureDays < 1 || featureDays > 365)
    throw new Error(`feature branch expiry must be 1 to 365 days, got ${featureDays}`);
  return [
    {
      name: "main",
      parent: null,
      endpoint: { autoscaling_limit_min_cu: 2, autoscaling_limit_max_cu: 4, suspend_timeout_seconds: 300 },
    },
    {
      name: "staging",
      parent: "main",
      endpoint: { autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 2, suspend_timeout_seconds: 60 },
    },
    {
      name: "development",
      parent: "staging",
      endpoint: { autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 1, suspend_timeout_seconds: 30 },
    },
    {
      name: "feature/*",
      parent: "development",
      endpoint: {
        autoscaling_limit_min_cu: 0.25,
        autoscaling_limit_max_cu: 0.25,
        suspend_timeout_seconds: 30,
      },
      expiresAfterDays: featureDays,
    },
  ];
}

const FEATURE_NAME = /^feature\/[a-z0-9][a-z0-9._-]{0,62}$/;

/** The policy a branch name falls under, or null (a branch the policy does not manage). */
export function policyFor(branch: string, policies = branchPolicies()): BranchPolicy | null {
  for (const p of policies) {
    if (p.name === branch) return p;
    if (p.name.endsWith("/*") && branch.startsWith(p.name.slice(0, -1)))
      return FEATURE_NAME.test(branch) ? p : null;
  }
  return null;
}

/** Why a name cannot be a feature branch, or null. */
export function invalidFeatureName(branch: string): string | null {
  return FEATURE_NAME.test(branch)
    ? null
    : "a feature branch is named feature/<name>: lower case letters, digits, '.', '_' or '-', at most 63 after the slash";
}

export interface Drift {
  field: keyof EndpointLimits;
  want: number;
  have: number | undefined;
}

/** Where an endpoint's settings differ from its policy (empty: none). */
export function driftOf(policy: BranchPolicy, endpoint: Partial<EndpointLimits>): Drift[] {
  const out: Drift[] = [];
  for (const field of Object.keys(policy.endpoint) as (keyof EndpointLimits)[]) {
    if (endpoint[field] !== policy.endpoint[field])
      out.push({ field, want: policy.endpoint[field], have: endpoint[field] });
  }
  return out;
}

/** Whether a branch created at `createdAt` has outlived its policy's expiry at `now`. */
export function isExpired(policy: BranchPolicy, createdAt: string, now: Date): boolean {
  if (!policy.expiresAfterDays) return false;
  const created = Date.parse(createdAt);
  if (Number.isNaN(created)) throw new Error(`not a timestamp: ${createdAt}`);
  return now.getTime() - created >= policy.expiresAfterDays * 86_400_000;
}
