/**
 * Autoscaling decision for Neon compute endpoints: pure, no I/O.
 *
 * Neon already autoscales a compute between `autoscaling_limit_min_cu` and `autoscaling_limit_max_cu`
 * (the real field names of the endpoint API). This module decides how to move those *limits* from
 * observed CPU utilisation, so the caller (a scheduled job) can PATCH the endpoint only when needed.
 * Keeping it pure lets us test the flapping/cooldown rules exhaustively without a Neon account.
 *
 * Allowed compute sizes for autoscaling, per the Neon docs (neon.com/docs/guides/autoscaling-guide and
 * neon.com/docs/manage/computes): 0.25, 0.5, then whole CUs 1, 2, 3, ... 16, and the range
 * (max - min) may not exceed 8 CU. Fixed (non-autoscaling) sizes go higher, but they are out of scope.
 * Not enforced here: any extra plan-specific rule Neon applies to very large maxima; the Neon API is the
 * final judge and the caller surfaces its error.
 */

/** Compute sizes Neon accepts as autoscaling limits, ascending. */
export const ALLOWED_CU: readonly number[] = Object.freeze([
  0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
]);

/** Neon rejects autoscaling ranges wider than this (max - min, in CU). */
export const MAX_AUTOSCALING_RANGE_CU = 8;

/** Samples older than this (newest one vs `now`) mean the metrics pipeline is lagging: never act on them. */
export const STALE_AFTER_MS = 5 * 60 * 1000;

export interface MetricSample {
  /** ISO-8601 timestamp of the sample. */
  at: string;
  /** CPU utilisation as a fraction (0..1) of the current max limit; values slightly above 1 are tolerated. */
  cpuUtilization: number;
  /** Informational only for now; validated so bad data is caught early. */
  activeConnections?: number;
}

export interface ScalingPolicy {
  /** Lower bound of the policy, in CU; the min limit is kept here. */
  minCu: number;
  /** Upper bound of the policy, in CU; the max limit never goes beyond it. */
  maxCu: number;
  /** Utilisation above which a sustained run of samples raises the max limit. Default 0.75. */
  scaleUpAbove?: number;
  /** Utilisation below which a sustained run of samples lowers the max limit. Default 0.30. */
  scaleDownBelow?: number;
  /** Consecutive samples that must all be beyond a threshold before acting. Default 3. */
  sustainedSamples?: number;
  /** Seconds after any change during which metric-driven changes are refused. Default 600. */
  cooldownSeconds?: number;
  /** How many allowed CU steps (see ALLOWED_CU) to move the max limit at once. Default 1. */
  step?: number;
}

/** A policy with every default filled in, as returned by `validatePolicy`. */
export type ResolvedScalingPolicy = Required<ScalingPolicy>;

export interface CurrentLimits {
  autoscaling_limit_min_cu: number;
  autoscaling_limit_max_cu: number;
}

export interface ScalingState {
  /** ISO-8601 time of the last change the job applied (clamping included). */
  lastChangeAt?: string;
}

export type ScalingAction = "scale_up" | "scale_down" | "hold";

export interface ScalingDecision {
  action: ScalingAction;
  /** The limits to apply; equal to the current ones on hold. */
  limits: CurrentLimits;
  /** One short English sentence with the numbers behind the decision, for logs and audit. */
  reason: string;
}

export interface DecideScalingInput {
  samples: readonly MetricSample[];
  policy: ScalingPolicy;
  current: CurrentLimits;
  state: ScalingState;
  now: Date | string;
}

export const DEFAULT_POLICY = Object.freeze({
  scaleUpAbove: 0.75,
  scaleDownBelow: 0.3,
  sustainedSamples: 3,
  cooldownSeconds: 600,
  step: 1,
});

function fail(field: string, message: string): never {
  throw new Error(`autoscale: invalid ${field}: ${message}`);
}

function requireFinite(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value))
    fail(field, `expected a finite number, got ${String(value)}`);
  return value;
}

function requireNonNegative(field: string, value: unknown): number {
  const n = requireFinite(field, value);
  if (n < 0) fail(field, `must not be negative, got ${n}`);
  return n;
}

function requirePositiveInteger(field: string, value: unknown): number {
  const n = requireFinite(field, value);
  if (!Number.isInteger(n) || n < 1) fail(field, `must be a positive integer, got ${n}`);
  return n;
}

function parseTime(field: string, value: unknown): number {
  const ms =
    value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) fail(field, `expected an ISO-8601 timestamp, got ${String(value)}`);
  return ms;
}

/**
 * Checks a policy and returns it with defaults filled in. Throws an Error naming the bad field, so a
 * misconfigured policy fails loudly at deploy/run time instead of silently never scaling.
 */
export function validatePolicy(policy: ScalingPolicy): ResolvedScalingPolicy {
  if (typeof policy !== "object" || policy === null) fail("policy", "expected an object");
  const resolved: ResolvedScalingPolicy = {
    ...DEFAULT_POLICY,
    ...stripUndefined(policy),
  } as ResolvedScalingPolicy;

  const minCu = requireNonNegative("policy.minCu", resolved.minCu);
  const maxCu = requireNonNegative("policy.maxCu", resolved.maxCu);
  if (!ALLOWED_CU.includes(minCu))
    fail("policy.minCu", `${minCu} is not an allowed Neon size (${ALLOWED_CU.join(", ")})`);
  if (!ALLOWED_CU.includes(maxCu))
    fail("policy.maxCu", `${maxCu} is not an allowed Neon size (${ALLOWED_CU.join(", ")})`);
  if (maxCu < minCu) fail("policy.maxCu", `must be >= policy.minCu (${maxCu} < ${minCu})`);
  if (maxCu - minCu > MAX_AUTOSCALING_RANGE_CU) {
    fail(
      "policy.maxCu",
      `Neon allows at most ${MAX_AUTOSCALING_RANGE_CU} CU between min and max (${minCu}–${maxCu})`,
    );
  }

  const up = requireFinite("policy.scaleUpAbove", resolved.scaleUpAbove);
  const down = requireFinite("policy.scaleDownBelow", resolved.scaleDownBelow);
  if (!(down > 0)) fail("policy.scaleDownBelow", `must be > 0, got ${down}`);
  if (!(up < 1)) fail("policy.scaleUpAbove", `must be < 1, got ${up}`);
  // The gap between the thresholds is the hysteresis band; without it the limits would flap.
  if (!(down < up)) fail("policy.scaleDownBelow", `must be < policy.scaleUpAbove (${down} >= ${up})`);

  requirePositiveInteger("policy.sustainedSamples", resolved.sustainedSamples);
  requireNonNegative("policy.cooldownSeconds", resolved.cooldownSeconds);
  requirePositiveInteger("policy.step", resolved.step);
  return resolved;
}

/** Lets callers pass `{ step: undefined }` and still get the default instead of `undefined`. */
function stripUndefined(policy: ScalingPolicy): Partial<ScalingPolicy> {
  const out: Partial<Record<keyof ScalingPolicy, number>> = {};
  for (const [key, value] of Object.entries(policy) as [keyof ScalingPolicy, number | undefined][]) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function validateCurrent(current: CurrentLimits): void {
  if (typeof current !== "object" || current === null) fail("current", "expected an object");
  const min = requireNonNegative("current.autoscaling_limit_min_cu", current.autoscaling_limit_min_cu);
  const max = requireNonNegative("current.autoscaling_limit_max_cu", current.autoscaling_limit_max_cu);
  if (max < min) {
    fail("current.autoscaling_limit_max_cu", `must be >= current.autoscaling_limit_min_cu (${max} < ${min})`);
  }
}

/** Validates samples and returns them sorted by time, so callers need not guarantee order. */
function validateSamples(samples: readonly MetricSample[]): { at: number; cpu: number }[] {
  if (!Array.isArray(samples)) fail("samples", "expected an array");
  const parsed = samples.map((s, i) => {
    const at = parseTime(`samples[${i}].at`, s.at);
    // Values above 1 can happen when the max limit changed mid-interval; they simply count as "high".
    const cpu = requireNonNegative(`samples[${i}].cpuUtilization`, s.cpuUtilization);
    if (s.activeConnections !== undefined)
      requireNonNegative(`samples[${i}].activeConnections`, s.activeConnections);
    return { at, cpu };
  });
  return parsed.sort((a, b) => a.at - b.at);
}

/**
 * Moves `from` by `steps` allowed sizes in `direction`. A value between two allowed sizes (set by hand
 * in the console, say) counts as one step from either neighbour, so the result is always an allowed size.
 */
function stepCu(from: number, steps: number, direction: 1 | -1): number {
  if (direction === 1) {
    const above = ALLOWED_CU.filter((cu) => cu > from);
    return above[Math.min(steps, above.length) - 1] ?? from;
  }
  const below = ALLOWED_CU.filter((cu) => cu < from);
  return below[Math.max(below.length - steps, 0)] ?? from;
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;
const cu = (x: number): string => `${x} CU`;

/**
 * Decides whether to move the endpoint's autoscaling max limit.
 *
 * Order matters: inputs are validated first (throw), then limits outside the policy are clamped
 * (allowed even in cooldown, because the policy is the hard budget), then metric-driven changes are
 * considered only with enough fresh samples, outside the hysteresis band and outside the cooldown.
 * At most one change per call, so every applied change starts a cooldown and is individually auditable.
 */
export function decideScaling(input: DecideScalingInput): ScalingDecision {
  const policy = validatePolicy(input.policy);
  validateCurrent(input.current);
  const nowMs = parseTime("now", input.now);
  const lastChangeMs =
    input.state?.lastChangeAt === undefined
      ? undefined
      : parseTime("state.lastChangeAt", input.state.lastChangeAt);
  const samples = validateSamples(input.samples);

  const current: CurrentLimits = {
    autoscaling_limit_min_cu: input.current.autoscaling_limit_min_cu,
    autoscaling_limit_max_cu: input.current.autoscaling_limit_max_cu,
  };
  const curMin = current.autoscaling_limit_min_cu;
  const curMax = current.autoscaling_limit_max_cu;
  const hold = (reason: string): ScalingDecision => ({ action: "hold", limits: current, reason });

  // 1. Policy bounds. The min limit is pinned to the policy's min (only the max moves), so any other
  // min, or a max outside [minCu, maxCu], is "outside policy" and is corrected before anything else.
  if (curMin !== policy.minCu || curMax < policy.minCu || curMax > policy.maxCu) {
    const newMax = Math.min(Math.max(curMax, policy.minCu), policy.maxCu);
    const limits: CurrentLimits = {
      autoscaling_limit_min_cu: policy.minCu,
      autoscaling_limit_max_cu: newMax,
    };
    // Direction follows the max (what matters for capacity); a min-only fix reports by the min's move.
    const delta = newMax !== curMax ? newMax - curMax : policy.minCu - curMin;
    return {
      action: delta > 0 ? "scale_up" : "scale_down",
      limits,
      reason: `Current limits ${curMin}–${cu(curMax)} are outside policy ${policy.minCu}–${cu(policy.maxCu)}, clamping to ${policy.minCu}–${cu(newMax)}.`,
    };
  }

  // 2. Enough fresh data to judge a sustained trend.
  const k = policy.sustainedSamples;
  if (samples.length < k)
    return hold(`Only ${samples.length} sample(s), need ${k} consecutive to act, holding.`);
  const newest = samples[samples.length - 1]!;
  const ageMs = nowMs - newest.at;
  if (ageMs > STALE_AFTER_MS) {
    return hold(
      `Newest sample is ${(ageMs / 60_000).toFixed(1)} min old (stale after ${STALE_AFTER_MS / 60_000} min), holding.`,
    );
  }

  // 3. Hysteresis: act only when every one of the last k samples is strictly beyond one threshold.
  // A sample inside the band [scaleDownBelow, scaleUpAbove] breaks any run, so noise never triggers.
  const window = samples.slice(-k);
  const allAbove = window.every((s) => s.cpu > policy.scaleUpAbove);
  const allBelow = window.every((s) => s.cpu < policy.scaleDownBelow);
  if (!allAbove && !allBelow) {
    return hold(
      `Last ${k} sample(s) are not all above ${pct(policy.scaleUpAbove)} or all below ${pct(policy.scaleDownBelow)}, holding.`,
    );
  }
  const direction: 1 | -1 = allAbove ? 1 : -1;
  const trend = allAbove
    ? `Last ${k} sample(s) above ${pct(policy.scaleUpAbove)}`
    : `Last ${k} sample(s) below ${pct(policy.scaleDownBelow)}`;

  // 4. Already at the policy edge in that direction: nothing to do (checked before the cooldown so the
  // reason tells operators the real blocker).
  if (direction === 1 && curMax >= policy.maxCu)
    return hold(`${trend} but max is already at policy max ${cu(policy.maxCu)}.`);
  if (direction === -1 && curMax <= policy.minCu)
    return hold(`${trend} but max is already at policy min ${cu(policy.minCu)}.`);

  // 5. Cooldown after any change: gives Neon's own autoscaler and the metrics time to settle on the new
  // limits before we judge them again.
  if (lastChangeMs !== undefined) {
    const remainingMs = lastChangeMs + policy.cooldownSeconds * 1000 - nowMs;
    if (remainingMs > 0) {
      return hold(
        `${trend} but cooldown has ${Math.ceil(remainingMs / 1000)} s of ${policy.cooldownSeconds} s remaining.`,
      );
    }
  }

  // 6. Move the max by `step` allowed sizes, never past the policy bounds.
  const stepped = stepCu(curMax, policy.step, direction);
  const newMax = Math.min(Math.max(stepped, policy.minCu), policy.maxCu);
  const clampedNote =
    newMax !== stepped ? ` (clamped by policy ${direction === 1 ? "max" : "min"} ${cu(newMax)})` : "";
  return {
    action: direction === 1 ? "scale_up" : "scale_down",
    limits: { autoscaling_limit_min_cu: policy.minCu, autoscaling_limit_max_cu: newMax },
    reason: `${trend}, ${direction === 1 ? "raising" : "lowering"} max from ${curMax} to ${cu(newMax)}${clampedNote}.`,
  };
}
