/** The branch policy as data: every size a Neon compute size, the parents form a chain, drift and expiry. */
import { describe, expect, it } from "vitest";
import { branchPolicies, driftOf, invalidFeatureName, isComputeSize, isExpired, policyFor } from "./policy";

describe("branch policy", () => {
  it("is the plan's corrected table: Neon compute sizes, min <= max, parents before children", () => {
    const policies = branchPolicies();
    expect(policies.map((p) => [p.name, p.parent])).toEqual([
      ["main", null],
      ["staging", "main"],
      ["development", "staging"],
      ["feature/*", "development"],
    ]);
    const seen = new Set<string>();
    for (const p of policies) {
      const { autoscaling_limit_min_cu: min, autoscaling_limit_max_cu: max } = p.endpoint;
      expect(isComputeSize(min) && isComputeSize(max), p.name).toBe(true);
      expect(min).toBeLessThanOrEqual(max);
      if (p.parent) expect(seen.has(p.parent), `${p.name}'s parent comes first`).toBe(true);
      seen.add(p.name);
    }
    expect(policyFor("main")?.endpoint).toEqual({
      autoscaling_limit_min_cu: 2,
      autoscaling_limit_max_cu: 4,
      suspend_timeout_seconds: 300,
    });
    expect(isComputeSize(0.3)).toBe(false);
    expect(isComputeSize(1.5)).toBe(false);
  });

  it("matches feature branches by pattern, with a valid name only", () => {
    expect(policyFor("feature/agenda-nova")?.name).toBe("feature/*");
    expect(policyFor("feature/Agenda Nova")).toBeNull();
    expect(policyFor("hotfix/x")).toBeNull();
    expect(invalidFeatureName("feature/x")).toBeNull();
    expect(invalidFeatureName("feature/")).toMatch(/feature\/<name>/);
  });

  it("reports drift field by field", () => {
    const main = policyFor("main")!;
    expect(driftOf(main, main.endpoint)).toEqual([]);
    expect(
      driftOf(main, {
        autoscaling_limit_min_cu: 0.25,
        autoscaling_limit_max_cu: 4,
        suspend_timeout_seconds: 0,
      }),
    ).toEqual([
      { field: "autoscaling_limit_min_cu", want: 2, have: 0.25 },
      { field: "suspend_timeout_seconds", want: 300, have: 0 },
    ]);
  });

  it("expires feature branches after the configured days, never the others", () => {
    const feature = policyFor("feature/x", branchPolicies(3))!;
    const now = new Date("2026-11-29T12:00:00Z");
    expect(isExpired(feature, "2026-11-26T12:00:00Z", now)).toBe(true);
    expect(isExpired(feature, "2026-11-26T12:00:01Z", now)).toBe(false);
    expect(isExpired(policyFor("main")!, "2020-01-01T00:00:00Z", now)).toBe(false);
    expect(() => branchPolicies(0)).toThrow(/1 to 365/);
    expect(() => isExpired(feature, "yesterday", now)).toThrow(/not a timestamp/);
  });
});
