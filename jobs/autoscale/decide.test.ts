import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ALLOWED_CU,
  type CurrentLimits,
  decideScaling,
  type MetricSample,
  type ScalingDecision,
  type ScalingPolicy,
  type ScalingState,
  validatePolicy,
} from "./decide";

const T0 = Date.parse("2026-03-02T12:00:00.000Z");
const MINUTE = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** Samples one minute apart, the last one at `end`. */
function series(values: readonly number[], end = T0): MetricSample[] {
  return values.map((cpuUtilization, i) => ({
    at: iso(end - (values.length - 1 - i) * MINUTE),
    cpuUtilization,
  }));
}

const MAIN: ScalingPolicy = { minCu: 2, maxCu: 4 };
const limits = (min: number, max: number): CurrentLimits => ({
  autoscaling_limit_min_cu: min,
  autoscaling_limit_max_cu: max,
});

interface Step {
  at: number;
  decision: ScalingDecision;
}

/**
 * Feeds `values` one per minute into decideScaling, applying each decision as the job would (new limits,
 * lastChangeAt = now on any change). Returns every decision with its time.
 */
function simulate(
  values: readonly number[],
  policy: ScalingPolicy,
  start: CurrentLimits,
  startMs = T0,
): Step[] {
  let current = start;
  let state: ScalingState = {};
  const samples: MetricSample[] = [];
  const steps: Step[] = [];
  values.forEach((cpuUtilization, i) => {
    const now = startMs + i * MINUTE;
    samples.push({ at: iso(now), cpuUtilization });
    const decision = decideScaling({ samples, policy, current, state, now: iso(now) });
    if (decision.action !== "hold") {
      current = decision.limits;
      state = { lastChangeAt: iso(now) };
    }
    steps.push({ at: now, decision });
  });
  return steps;
}

const maxOf = (s: Step): number => s.decision.limits.autoscaling_limit_max_cu;

describe("decideScaling scenarios", () => {
  it("spike: one high sample among normal ones holds", () => {
    const d = decideScaling({
      samples: series([0.5, 0.55, 0.98, 0.5, 0.6]),
      policy: MAIN,
      current: limits(2, 2),
      state: {},
      now: iso(T0),
    });
    expect(d.action).toBe("hold");
    expect(d.limits).toEqual(limits(2, 2));
    expect(d.reason).toMatch(/not all above 75% or all below 30%/);
  });

  it("spike: a high sample right at the end still needs the full sustained run", () => {
    const d = decideScaling({
      samples: series([0.5, 0.9, 0.95]),
      policy: MAIN,
      current: limits(2, 2),
      state: {},
      now: iso(T0),
    });
    expect(d.action).toBe("hold");
  });

  it("sustained load: one step up, cooldown holds, another step after cooldown, never past max", () => {
    const policy: ScalingPolicy = { minCu: 2, maxCu: 4, cooldownSeconds: 600 };
    const first = decideScaling({
      samples: series([0.8, 0.9, 0.85]),
      policy,
      current: limits(2, 2),
      state: {},
      now: iso(T0),
    });
    expect(first.action).toBe("scale_up");
    expect(first.limits).toEqual(limits(2, 3));
    expect(first.reason).toBe("Last 3 sample(s) above 75%, raising max from 2 to 3 CU.");

    const inCooldown = decideScaling({
      samples: series([0.8, 0.9, 0.85, 0.9, 0.95], T0 + 2 * MINUTE),
      policy,
      current: first.limits,
      state: { lastChangeAt: iso(T0) },
      now: iso(T0 + 2 * MINUTE),
    });
    expect(inCooldown.action).toBe("hold");
    expect(inCooldown.limits).toEqual(limits(2, 3));
    expect(inCooldown.reason).toMatch(/cooldown has 480 s of 600 s remaining/);

    const afterCooldown = decideScaling({
      samples: series([0.9, 0.9, 0.9], T0 + 10 * MINUTE),
      policy,
      current: first.limits,
      state: { lastChangeAt: iso(T0) },
      now: iso(T0 + 10 * MINUTE),
    });
    expect(afterCooldown.action).toBe("scale_up");
    expect(afterCooldown.limits).toEqual(limits(2, 4));

    const atMax = decideScaling({
      samples: series([0.99, 0.99, 0.99], T0 + 30 * MINUTE),
      policy,
      current: afterCooldown.limits,
      state: { lastChangeAt: iso(T0 + 10 * MINUTE) },
      now: iso(T0 + 30 * MINUTE),
    });
    expect(atMax.action).toBe("hold");
    expect(atMax.limits).toEqual(limits(2, 4));
    expect(atMax.reason).toMatch(/already at policy max 4 CU/);
  });

  it("sustained load over an hour climbs one step per cooldown and stops at the policy max", () => {
    const steps = simulate(Array(60).fill(0.95), MAIN, limits(2, 2));
    const changes = steps.filter((s) => s.decision.action !== "hold");
    expect(changes.map(maxOf)).toEqual([3, 4]);
    expect(changes[1]!.at - changes[0]!.at).toBe(10 * MINUTE);
    expect(Math.max(...steps.map(maxOf))).toBe(4);
  });

  it("a step larger than the room left is clamped by the policy max and says so", () => {
    const d = decideScaling({
      samples: series([0.9, 0.9, 0.9]),
      policy: { minCu: 2, maxCu: 4, step: 5 },
      current: limits(2, 3),
      state: {},
      now: iso(T0),
    });
    expect(d.limits).toEqual(limits(2, 4));
    expect(d.reason).toMatch(/clamped by policy max 4 CU/);
  });

  it("steps through the fractional sizes below 1 CU", () => {
    const d = decideScaling({
      samples: series([0.9, 0.9, 0.9]),
      policy: { minCu: 0.25, maxCu: 2 },
      current: limits(0.25, 0.5),
      state: {},
      now: iso(T0),
    });
    expect(d.limits).toEqual(limits(0.25, 1));
  });

  it("idle: sustained low load scales down to the policy min eventually, never below", () => {
    const policy: ScalingPolicy = { minCu: 1, maxCu: 5, cooldownSeconds: 300 };
    const steps = simulate(Array(90).fill(0.05), policy, limits(1, 5));
    const changes = steps.filter((s) => s.decision.action !== "hold");
    expect(changes.every((s) => s.decision.action === "scale_down")).toBe(true);
    expect(changes.map(maxOf)).toEqual([4, 3, 2, 1]);
    expect(maxOf(steps.at(-1)!)).toBe(1);
    expect(steps.at(-1)!.decision.reason).toMatch(/already at policy min 1 CU/);
    expect(Math.min(...steps.map(maxOf))).toBe(1);
  });

  it("noisy: values oscillating around the up threshold never change the limits", () => {
    const values = Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? 0.8 : 0.7));
    const steps = simulate(values, { ...MAIN, cooldownSeconds: 0 }, limits(2, 3));
    expect(steps.every((s) => s.decision.action === "hold")).toBe(true);
  });

  it("noisy: values oscillating around the down threshold never change the limits", () => {
    const values = Array.from({ length: 120 }, (_, i) => (i % 3 === 0 ? 0.32 : 0.2));
    const steps = simulate(values, { ...MAIN, cooldownSeconds: 0 }, limits(2, 3));
    expect(steps.every((s) => s.decision.action === "hold")).toBe(true);
  });

  it("noisy: values swinging across the whole band never change the limits", () => {
    const values = Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? 0.95 : 0.05));
    const steps = simulate(values, { ...MAIN, cooldownSeconds: 0 }, limits(2, 3));
    expect(steps.every((s) => s.decision.action === "hold")).toBe(true);
  });

  it("clamping: max above the policy is clamped down even within cooldown and with no samples", () => {
    const d = decideScaling({
      samples: [],
      policy: MAIN,
      current: limits(2, 8),
      state: { lastChangeAt: iso(T0 - MINUTE) },
      now: iso(T0),
    });
    expect(d.action).toBe("scale_down");
    expect(d.limits).toEqual(limits(2, 4));
    expect(d.reason).toBe("Current limits 2–8 CU are outside policy 2–4 CU, clamping to 2–4 CU.");
  });

  it("clamping: limits below the policy are clamped up, min back to the policy min", () => {
    const d = decideScaling({
      samples: series([0.1, 0.1, 0.1]),
      policy: MAIN,
      current: limits(0.25, 1),
      state: { lastChangeAt: iso(T0) },
      now: iso(T0),
    });
    expect(d.action).toBe("scale_up");
    expect(d.limits).toEqual(limits(2, 2));
    expect(d.reason).toMatch(/outside policy/);
  });

  it("clamping: a min other than the policy min is realigned, keeping an in-bounds max", () => {
    const d = decideScaling({
      samples: series([0.5, 0.5, 0.5]),
      policy: MAIN,
      current: limits(3, 4),
      state: {},
      now: iso(T0),
    });
    expect(d.action).toBe("scale_down");
    expect(d.limits).toEqual(limits(2, 4));
    expect(d.reason).toMatch(/outside policy/);
  });

  it("stale metrics hold, even under sustained load", () => {
    const d = decideScaling({
      samples: series([0.9, 0.9, 0.9], T0 - 6 * MINUTE),
      policy: MAIN,
      current: limits(2, 2),
      state: {},
      now: iso(T0),
    });
    expect(d.action).toBe("hold");
    expect(d.reason).toBe("Newest sample is 6.0 min old (stale after 5 min), holding.");
  });

  it("samples exactly 5 minutes old are still fresh; order of samples does not matter", () => {
    const d = decideScaling({
      samples: series([0.9, 0.9, 0.9], T0 - 5 * MINUTE).reverse(),
      policy: MAIN,
      current: limits(2, 2),
      state: {},
      now: iso(T0),
    });
    expect(d.action).toBe("scale_up");
  });

  it("fewer samples than sustainedSamples hold", () => {
    const d = decideScaling({
      samples: series([0.99, 0.99]),
      policy: MAIN,
      current: limits(2, 2),
      state: {},
      now: iso(T0),
    });
    expect(d.action).toBe("hold");
    expect(d.reason).toBe("Only 2 sample(s), need 3 consecutive to act, holding.");
  });

  it("never uses the wrong field name for limits", () => {
    const d = decideScaling({ samples: [], policy: MAIN, current: limits(2, 3), state: {}, now: iso(T0) });
    expect(Object.keys(d.limits).sort()).toEqual(["autoscaling_limit_max_cu", "autoscaling_limit_min_cu"]);
  });
});

describe("invalid input throws an Error naming the field", () => {
  const base = {
    samples: series([0.5, 0.5, 0.5]),
    policy: MAIN,
    current: limits(2, 3),
    state: {},
    now: iso(T0),
  };

  it.each<[string, Partial<ScalingPolicy>, RegExp]>([
    ["NaN minCu", { minCu: Number.NaN }, /policy\.minCu/],
    ["negative maxCu", { maxCu: -1 }, /policy\.maxCu/],
    ["max < min", { minCu: 4, maxCu: 2 }, /policy\.maxCu.*>= policy\.minCu/],
    ["size Neon does not offer", { maxCu: 2.5 }, /policy\.maxCu.*not an allowed Neon size/],
    ["range wider than 8 CU", { minCu: 1, maxCu: 10 }, /policy\.maxCu.*at most 8 CU/],
    ["down >= up", { scaleDownBelow: 0.8, scaleUpAbove: 0.7 }, /policy\.scaleDownBelow/],
    ["down == up", { scaleDownBelow: 0.5, scaleUpAbove: 0.5 }, /policy\.scaleDownBelow/],
    ["down <= 0", { scaleDownBelow: 0 }, /policy\.scaleDownBelow/],
    ["up >= 1", { scaleUpAbove: 1 }, /policy\.scaleUpAbove/],
    ["NaN threshold", { scaleUpAbove: Number.NaN }, /policy\.scaleUpAbove/],
    ["zero sustainedSamples", { sustainedSamples: 0 }, /policy\.sustainedSamples/],
    ["fractional sustainedSamples", { sustainedSamples: 1.5 }, /policy\.sustainedSamples/],
    ["negative cooldown", { cooldownSeconds: -5 }, /policy\.cooldownSeconds/],
    ["zero step", { step: 0 }, /policy\.step/],
  ])("policy: %s", (_name, patch, message) => {
    expect(() => validatePolicy({ ...MAIN, ...patch })).toThrow(message);
    expect(() => decideScaling({ ...base, policy: { ...MAIN, ...patch } })).toThrow(message);
  });

  it("current limits: NaN, negative, max < min", () => {
    expect(() => decideScaling({ ...base, current: limits(Number.NaN, 3) })).toThrow(
      /current\.autoscaling_limit_min_cu/,
    );
    expect(() => decideScaling({ ...base, current: limits(2, -3) })).toThrow(
      /current\.autoscaling_limit_max_cu/,
    );
    expect(() => decideScaling({ ...base, current: limits(3, 2) })).toThrow(
      /current\.autoscaling_limit_max_cu.*>= current\.autoscaling_limit_min_cu/,
    );
  });

  it("samples, now and state", () => {
    const bad = (patch: Partial<MetricSample>) => [...series([0.5, 0.5]), { ...series([0.5])[0]!, ...patch }];
    expect(() => decideScaling({ ...base, samples: bad({ cpuUtilization: Number.NaN }) })).toThrow(
      /samples\[2\]\.cpuUtilization/,
    );
    expect(() => decideScaling({ ...base, samples: bad({ cpuUtilization: -0.1 }) })).toThrow(
      /samples\[2\]\.cpuUtilization/,
    );
    expect(() => decideScaling({ ...base, samples: bad({ at: "yesterday" }) })).toThrow(/samples\[2\]\.at/);
    expect(() => decideScaling({ ...base, samples: bad({ activeConnections: -1 }) })).toThrow(
      /samples\[2\]\.activeConnections/,
    );
    expect(() => decideScaling({ ...base, now: "not a date" })).toThrow(/invalid now/);
    expect(() => decideScaling({ ...base, state: { lastChangeAt: "soon" } })).toThrow(/state\.lastChangeAt/);
  });

  it("validatePolicy fills in the documented defaults", () => {
    expect(validatePolicy(MAIN)).toEqual({
      minCu: 2,
      maxCu: 4,
      scaleUpAbove: 0.75,
      scaleDownBelow: 0.3,
      sustainedSamples: 3,
      cooldownSeconds: 600,
      step: 1,
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// No-flap property test: random policies that pass validation, random series, decisions applied over
// time exactly as the job would. Each property below was checked to go red against a deliberately
// broken decide.ts (cooldown removed / hysteresis collapsed / policy clamp removed), then restored.

/** Policies built from allowed sizes and percent thresholds, so every generated policy validates. */
const policyArb: fc.Arbitrary<Required<ScalingPolicy>> = fc
  .record({
    minIdx: fc.integer({ min: 0, max: ALLOWED_CU.length - 1 }),
    span: fc.integer({ min: 0, max: 8 }),
    downPct: fc.integer({ min: 1, max: 97 }),
    gapPct: fc.integer({ min: 1, max: 60 }),
    sustainedSamples: fc.integer({ min: 1, max: 5 }),
    cooldownSeconds: fc.oneof(fc.constantFrom(0, 60, 300, 600), fc.integer({ min: 0, max: 1800 })),
    step: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ minIdx, span, downPct, gapPct, ...rest }) => {
    const minCu = ALLOWED_CU[minIdx]!;
    // Largest allowed size within `span` indexes that keeps Neon's 8 CU range rule.
    const candidates = ALLOWED_CU.slice(minIdx, minIdx + span + 1).filter((cu) => cu - minCu <= 8);
    const upPct = Math.min(downPct + gapPct, 99);
    return {
      minCu,
      maxCu: candidates.at(-1)!,
      scaleDownBelow: downPct / 100,
      scaleUpAbove: upPct / 100,
      ...rest,
    };
  })
  .filter((p) => p.scaleDownBelow < p.scaleUpAbove);

/**
 * Utilisation in whole percent. Not fc.double: it samples the binary representation, so values in [0, 1]
 * cluster near 0 and the series would almost never cross the thresholds (a hysteresis mutant survived it).
 */
const utilArb = fc.integer({ min: 0, max: 100 }).map((p) => p / 100);

/** Either independent noise or runs of a level (load regimes), which is what drives real scaling. */
const seriesArb = fc.oneof(
  fc.array(utilArb, { minLength: 1, maxLength: 150 }),
  fc
    .array(fc.tuple(utilArb, fc.integer({ min: 1, max: 25 })), { minLength: 1, maxLength: 12 })
    .map((runs) => runs.flatMap(([level, n]) => Array<number>(n).fill(level))),
);

/** Starting limits inside the policy (min pinned, max anywhere in bounds, allowed sizes only). */
const scenarioArb = policyArb.chain((policy) =>
  fc.record({
    policy: fc.constant(policy),
    startMax: fc.constantFrom(...ALLOWED_CU.filter((cu) => cu >= policy.minCu && cu <= policy.maxCu)),
    values: seriesArb,
  }),
);

const stepsBetween = (min: number, max: number): number => ALLOWED_CU.indexOf(max) - ALLOWED_CU.indexOf(min);

describe("no-flap properties (fast-check)", () => {
  const runs = { numRuns: 300 };

  it("(a) limits always stay within the policy bounds", () => {
    fc.assert(
      fc.property(scenarioArb, ({ policy, startMax, values }) => {
        for (const { decision } of simulate(values, policy, limits(policy.minCu, startMax))) {
          const { autoscaling_limit_min_cu: min, autoscaling_limit_max_cu: max } = decision.limits;
          if (min !== policy.minCu || max < policy.minCu || max > policy.maxCu) return false;
          if (!ALLOWED_CU.includes(max)) return false;
        }
        return true;
      }),
      runs,
    );
  });

  it("(b) no two changes are closer than the cooldown", () => {
    fc.assert(
      fc.property(scenarioArb, ({ policy, startMax, values }) => {
        const changes = simulate(values, policy, limits(policy.minCu, startMax)).filter(
          (s) => s.decision.action !== "hold",
        );
        return changes.every((c, i) => i === 0 || c.at - changes[i - 1]!.at >= policy.cooldownSeconds * 1000);
      }),
      runs,
    );
  });

  it("(c) a reversal needs sustainedSamples samples on the other side of the band in between", () => {
    fc.assert(
      fc.property(scenarioArb, ({ policy, startMax, values }) => {
        const steps = simulate(values, policy, limits(policy.minCu, startMax));
        let prev: number | undefined;
        for (let i = 0; i < steps.length; i++) {
          const action = steps[i]!.decision.action;
          if (action === "hold") continue;
          if (prev !== undefined && steps[prev]!.decision.action !== action) {
            // Samples strictly after the previous change, up to and including this one.
            const between = values.slice(prev + 1, i + 1);
            const otherSide =
              action === "scale_down"
                ? between.filter((v) => v < policy.scaleDownBelow)
                : between.filter((v) => v > policy.scaleUpAbove);
            if (otherSide.length < policy.sustainedSamples) return false;
          }
          prev = i;
        }
        return true;
      }),
      runs,
    );
  });

  it("(d) a constant series changes the limits at most (steps between min and max) times", () => {
    fc.assert(
      fc.property(
        scenarioArb,
        utilArb,
        fc.integer({ min: 1, max: 200 }),
        ({ policy, startMax }, value, length) => {
          const steps = simulate(Array(length).fill(value), policy, limits(policy.minCu, startMax));
          const changes = steps.filter((s) => s.decision.action !== "hold").length;
          return changes <= stepsBetween(policy.minCu, policy.maxCu);
        },
      ),
      runs,
    );
  });

  it("every non-hold decision really changes the limits, and holds keep them", () => {
    fc.assert(
      fc.property(scenarioArb, ({ policy, startMax, values }) => {
        let current = limits(policy.minCu, startMax);
        for (const { decision } of simulate(values, policy, current)) {
          const same =
            decision.limits.autoscaling_limit_max_cu === current.autoscaling_limit_max_cu &&
            decision.limits.autoscaling_limit_min_cu === current.autoscaling_limit_min_cu;
          if ((decision.action === "hold") !== same) return false;
          current = decision.limits;
        }
        return true;
      }),
      runs,
    );
  });
});
