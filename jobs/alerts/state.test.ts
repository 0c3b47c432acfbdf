/**
 * Properties of the alert state machine over random metric series (fast-check): random rules,
 * runs of the job at irregular times, samples that are fresh, late, stale, repeated, older than
 * the last one or missing, and values around the threshold (the threshold itself included).
 * Each property was seen failing against a deliberately broken step() before it was kept.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  holds,
  INITIAL_STATE,
  type InstanceState,
  OPERATORS,
  type Operator,
  type RuleSpec,
  type Sample,
  STALE_AFTER_MS,
  step,
  type Transition,
} from "./state";

const MIN = 60_000;

/** The oracle's own reading of a condition (not state.ts's, which a broken version may change). */
function meets(op: Operator, value: number, threshold: number): boolean {
  return op === ">"
    ? value > threshold
    : op === ">="
      ? value >= threshold
      : op === "<"
        ? value < threshold
        : value <= threshold;
}
const RUNS = { numRuns: 400 };

type Kind = "none" | "fresh" | "stale" | "repeat" | "old";
interface Run {
  dtMs: number;
  kind: Kind;
  lagMs: number;
  /** null: the previous value again (series have streaks). */
  value: number | null;
}

interface Observed {
  now: number;
  sample: Sample | null;
  /** Evidence: fresh at `now` and newer than the last evaluated sample. */
  accepted: boolean;
  holds: boolean;
  before: InstanceState;
  after: InstanceState;
  transitions: Transition[];
}

const ruleArb: fc.Arbitrary<RuleSpec> = fc.record({
  operator: fc.constantFrom(...OPERATORS),
  threshold: fc.oneof(
    fc.constantFrom(0, 0.8, 0.99, 100, 30),
    fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  ),
  forMs: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 15 }).map((m) => m * MIN),
    fc.integer({ min: 0, max: 15 * MIN }),
  ),
  repeatMs: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 30 }).map((m) => m * MIN) },
    { weight: 1, arbitrary: fc.constant(4 * 3600_000) },
  ),
});

function valueArb(threshold: number): fc.Arbitrary<number> {
  const d = Math.max(Math.abs(threshold) * 0.1, 1);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(threshold - d, threshold, threshold + d) },
    {
      weight: 1,
      arbitrary: fc.double({
        min: threshold - 10 * d,
        max: threshold + 10 * d,
        noNaN: true,
        noDefaultInfinity: true,
      }),
    },
  );
}

function runArb(threshold: number, value = valueArb(threshold)): fc.Arbitrary<Run> {
  return fc.record({
    dtMs: fc.oneof(
      { weight: 8, arbitrary: fc.constant(MIN) },
      { weight: 2, arbitrary: fc.integer({ min: 1000, max: 3 * MIN }) },
      { weight: 1, arbitrary: fc.integer({ min: 3 * MIN, max: 30 * MIN }) },
    ),
    kind: fc.oneof(
      { weight: 10, arbitrary: fc.constant<Kind>("fresh") },
      { weight: 1, arbitrary: fc.constantFrom<Kind>("none", "stale", "repeat", "old") },
    ),
    // Mostly on the minute, as the poll job writes them.
    lagMs: fc.oneof(
      { weight: 3, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * MIN }) },
    ),
    value: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: value }),
  });
}

const series = { minLength: 1, maxLength: 150, size: "max" } as const;
const scenarioArb = ruleArb.chain((rule) =>
  fc.record({ rule: fc.constant(rule), runs: fc.array(runArb(rule.threshold), series) }),
);
/** Series whose values never meet the rule's condition (the threshold itself included). */
const quietArb = ruleArb.chain((rule) => {
  const quiet = valueArb(rule.threshold).filter((v) => !meets(rule.operator, v, rule.threshold));
  return fc.record({ rule: fc.constant(rule), runs: fc.array(runArb(rule.threshold, quiet), series) });
});

/** Runs the job over `runs`, as the evaluation job would call step() for one instance. */
function simulate(rule: RuleSpec, runs: Run[], initial = rule.threshold): Observed[] {
  const out: Observed[] = [];
  let state = INITIAL_STATE;
  let now = Date.parse("2030-01-01T00:00:00Z");
  let value = initial;
  let last: Sample | null = null;
  let lastAccepted: number | null = null;
  for (const r of runs) {
    now += r.dtMs;
    if (r.value !== null) value = r.value;
    let sample: Sample | null = null;
    if (r.kind === "repeat") sample = last;
    else if (r.kind === "old") sample = last ? { at: last.at - 1000 - r.lagMs, value } : null;
    else if (r.kind === "fresh" || r.kind === "stale") {
      const at = r.kind === "fresh" ? now - r.lagMs : now - STALE_AFTER_MS - 1000 - r.lagMs;
      // One sample per time: a new one is newer than the last the series produced.
      sample = last && at <= last.at ? last : { at, value };
      last = sample;
    }
    const accepted =
      sample !== null &&
      now - sample.at <= STALE_AFTER_MS &&
      (lastAccepted === null || sample.at > lastAccepted);
    if (accepted) lastAccepted = sample!.at;
    const { state: after, transitions } = step(rule, state, sample, now);
    out.push({
      now,
      sample,
      accepted,
      holds: sample !== null && meets(rule.operator, sample.value, rule.threshold),
      before: state,
      after,
      transitions,
    });
    state = after;
  }
  return out;
}

const notifications = (obs: Observed[]) =>
  obs.flatMap((o) =>
    o.transitions.filter((t) => t.notify !== null).map((t) => ({ kind: t.notify!, at: t.at })),
  );

/**
 * The start of the run of accepted samples ending at index i that all hold the condition with no
 * gap over STALE_AFTER_MS between them (null when sample i does not hold).
 */
function heldSince(obs: Observed[], i: number): number | null {
  if (!obs[i]!.accepted || !obs[i]!.holds) return null;
  let start = obs[i]!.sample!.at;
  for (let j = i - 1; j >= 0; j--) {
    const o = obs[j]!;
    if (!o.accepted) continue;
    if (!o.holds || start - o.sample!.at > STALE_AFTER_MS) break;
    start = o.sample!.at;
  }
  return start;
}

describe("alert state machine (properties)", () => {
  it("never announces 'firing' twice within the repeat interval", () => {
    fc.assert(
      fc.property(scenarioArb, ({ rule, runs }) => {
        const firing = notifications(simulate(rule, runs)).filter((n) => n.kind === "firing");
        for (let i = 1; i < firing.length; i++)
          expect(firing[i]!.at - firing[i - 1]!.at).toBeGreaterThanOrEqual(rule.repeatMs);
      }),
      RUNS,
    );
  });

  it("fires only after the condition held for `for` over consecutive fresh samples", () => {
    fc.assert(
      fc.property(scenarioArb, ({ rule, runs }) => {
        const obs = simulate(rule, runs);
        obs.forEach((o, i) => {
          if (!o.transitions.some((t) => t.to === "firing" && t.from !== "firing")) return;
          const since = heldSince(obs, i);
          expect(since).not.toBeNull();
          expect(o.sample!.at - since!).toBeGreaterThanOrEqual(rule.forMs);
        });
      }),
      RUNS,
    );
  });

  it("fires once the condition has held for `for` (and stays firing while it holds)", () => {
    fc.assert(
      fc.property(scenarioArb, ({ rule, runs }) => {
        const obs = simulate(rule, runs);
        obs.forEach((o, i) => {
          const since = heldSince(obs, i);
          if (since !== null && o.sample!.at - since >= rule.forMs) expect(o.after.state).toBe("firing");
        });
      }),
      RUNS,
    );
  });

  it("every 'resolved' follows a 'firing', with no other 'resolved' between them", () => {
    fc.assert(
      fc.property(scenarioArb, ({ rule, runs }) => {
        let open = false;
        for (const n of notifications(simulate(rule, runs))) {
          if (n.kind === "resolved") expect(open).toBe(true);
          open = n.kind === "firing";
        }
      }),
      RUNS,
    );
  });

  it("announces 'resolved' as soon as an announced firing alert stops holding", () => {
    fc.assert(
      fc.property(scenarioArb, ({ rule, runs }) => {
        for (const o of simulate(rule, runs)) {
          if (o.before.state === "firing" && o.before.notified && o.accepted && !o.holds)
            expect(o.transitions.map((t) => t.notify)).toEqual(["resolved"]);
        }
      }),
      RUNS,
    );
  });

  it("a firing alert has been announced less than `repeat` ago (it re-announces when due)", () => {
    fc.assert(
      fc.property(scenarioArb, ({ rule, runs }) => {
        let lastFiring: number | null = null;
        for (const o of simulate(rule, runs)) {
          for (const t of o.transitions) if (t.notify === "firing") lastFiring = t.at;
          if (o.accepted && o.after.state === "firing") {
            expect(lastFiring).not.toBeNull();
            expect(o.sample!.at - lastFiring!).toBeLessThan(rule.repeatMs);
          }
        }
      }),
      RUNS,
    );
  });

  it("no transition and no notification while the value never crosses the threshold", () => {
    fc.assert(
      fc.property(quietArb, ({ rule, runs }) => {
        const d = Math.max(Math.abs(rule.threshold) * 0.1, 1);
        const obs = simulate(
          rule,
          runs,
          rule.operator.startsWith(">") ? rule.threshold - d : rule.threshold + d,
        );
        for (const o of obs) {
          expect(o.transitions).toEqual([]);
          expect(o.after.state).toBe("inactive");
        }
      }),
      RUNS,
    );
  });

  it("no sample, a stale one or one already seen changes nothing (no firing, no flapping)", () => {
    fc.assert(
      fc.property(scenarioArb, ({ rule, runs }) => {
        for (const o of simulate(rule, runs)) {
          if (o.accepted) continue;
          expect(o.transitions).toEqual([]);
          expect(o.after).toEqual(o.before);
        }
      }),
      RUNS,
    );
  });

  it("transitions chain from the previous state to the new one", () => {
    fc.assert(
      fc.property(scenarioArb, ({ rule, runs }) => {
        for (const o of simulate(rule, runs)) {
          let s = o.before.state;
          for (const t of o.transitions) {
            expect(t.from).toBe(s);
            s = t.to;
          }
          expect(o.after.state).toBe(s);
        }
      }),
      RUNS,
    );
  });

  it("a breach held past `for` and shorter than `repeat`: exactly one 'firing', then one 'resolved'", () => {
    fc.assert(
      fc.property(
        ruleArb,
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 5 }),
        (rule, extra, after, before) => {
          const d = Math.max(Math.abs(rule.threshold) * 0.1, 1);
          const up = rule.operator.startsWith(">");
          const breach = up ? rule.threshold + d : rule.threshold - d;
          const calm = up ? rule.threshold - d : rule.threshold + d;
          const breachRuns = Math.ceil(rule.forMs / MIN) + extra;
          fc.pre(breachRuns * MIN < rule.repeatMs);
          const series: Run[] = [
            ...Array.from({ length: before }, () => ({
              dtMs: MIN,
              kind: "fresh" as const,
              lagMs: 0,
              value: calm,
            })),
            ...Array.from({ length: breachRuns }, () => ({
              dtMs: MIN,
              kind: "fresh" as const,
              lagMs: 0,
              value: breach,
            })),
            ...Array.from({ length: after }, () => ({
              dtMs: MIN,
              kind: "fresh" as const,
              lagMs: 0,
              value: calm,
            })),
          ];
          const obs = simulate(rule, series);
          const sent = notifications(obs);
          expect(sent.map((n) => n.kind)).toEqual(["firing", "resolved"]);
          const first = obs[before]!.sample!.at;
          expect(sent[0]!.at).toBe(first + Math.ceil(rule.forMs / MIN) * MIN);
          expect(sent[1]!.at).toBe(obs[before + breachRuns]!.sample!.at);
        },
      ),
      RUNS,
    );
  });
});

describe("alert state machine (examples)", () => {
  const rule: RuleSpec = { operator: ">", threshold: 0.8, forMs: 2 * MIN, repeatMs: 10 * MIN };
  const t0 = Date.parse("2030-01-01T00:00:00Z");
  const at = (m: number) => t0 + m * MIN;

  it("inactive → pending → firing → resolved → inactive, with a re-announcement after `repeat`", () => {
    let s = INITIAL_STATE;
    const seen: string[] = [];
    const feed = (m: number, value: number) => {
      const r = step(rule, s, { at: at(m), value }, at(m));
      s = r.state;
      for (const t of r.transitions) seen.push(`${m}:${t.from}>${t.to}${t.notify ? `!${t.notify}` : ""}`);
    };
    feed(0, 0.5);
    feed(1, 0.9);
    feed(2, 0.95);
    feed(3, 0.85);
    for (let m = 4; m <= 13; m++) feed(m, 0.9);
    feed(14, 0.1);
    feed(15, 0.1);
    expect(seen).toEqual([
      "1:inactive>pending",
      "3:pending>firing!firing",
      "13:firing>firing!firing",
      "14:firing>resolved!resolved",
      "15:resolved>inactive",
    ]);
    expect(s).toMatchObject({ state: "inactive", since: at(15), notifiedAt: at(13), notified: false });
  });

  it("holds its state without fresh data, and an equal value does not meet '>'", () => {
    const firing: InstanceState = { ...INITIAL_STATE, state: "firing", since: at(0), lastSampleAt: at(0) };
    expect(step(rule, firing, null, at(30)).state).toBe(firing);
    expect(step(rule, firing, { at: at(1), value: 0 }, at(7)).transitions).toEqual([]);
    expect(holds(">", 0.8, 0.8)).toBe(false);
    expect(holds(">=", 0.8, 0.8)).toBe(true);
  });
});
