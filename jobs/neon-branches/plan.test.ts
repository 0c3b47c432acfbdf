import { describe, expect, it } from "vitest";
import type { BranchView, EndpointView } from "../neon/api";
import { branchPolicies } from "../neon/policy";
import { endpointFix, planUpkeep } from "./plan";

const NOW = new Date("2026-11-29T12:00:00Z");
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000).toISOString();

function branch(name: string, over: Partial<BranchView> = {}): BranchView {
  return {
    id: `br-${name.replace(/\W/g, "-")}`,
    name,
    parentId: "br-main",
    state: "ready",
    default: false,
    protected: false,
    createdAt: daysAgo(1),
    expiresAt: null,
    ...over,
  };
}

function endpoint(
  b: BranchView,
  min: number,
  max: number,
  suspend: number,
  over: Partial<EndpointView> = {},
) {
  return {
    id: `ep-${b.id}`,
    branchId: b.id,
    type: "read_write",
    host: "127.0.0.1",
    state: "active",
    autoscaling_limit_min_cu: min,
    autoscaling_limit_max_cu: max,
    suspend_timeout_seconds: suspend,
    ...over,
  } satisfies EndpointView;
}

const main = branch("main", { id: "br-main", parentId: null, default: true, createdAt: daysAgo(400) });
const policies = branchPolicies(7);
const mainPolicy = policies.find((p) => p.name === "main")!;

describe("planUpkeep", () => {
  it("expires feature branches by their policy's days or their own expires_at, never a protected one", () => {
    const fresh = branch("feature/fresh", { createdAt: daysAgo(6.9) });
    const old = branch("feature/old", { createdAt: daysAgo(7) });
    const due = branch("feature/due", { expiresAt: daysAgo(0.01) });
    const later = branch("feature/later", { expiresAt: new Date(NOW.getTime() + 60_000).toISOString() });
    const guarded = branch("feature/guarded", { createdAt: daysAgo(30), protected: true });
    const plan = planUpkeep({
      branches: [main, fresh, old, due, later, guarded],
      endpoints: [endpoint(old, 1, 1, 0), endpoint(guarded, 0.25, 0.25, 30)],
      policies,
      now: NOW,
    });
    expect(plan.expire).toEqual([
      { id: old.id, name: "feature/old", reason: "policy" },
      { id: due.id, name: "feature/due", reason: "expires_at" },
    ]);
    expect(plan.keep).toEqual([{ id: guarded.id, name: "feature/guarded", reason: "protected" }]);
    // The expiring branch's endpoint is not fixed first; the protected one's still matches policy.
    expect(plan.limits).toEqual([]);
  });

  it("touches no branch the policy does not name: backups, hand-made, ill-named features", () => {
    const others = [
      branch("backup/2026-11-01T03-00-00Z", { createdAt: daysAgo(28) }),
      branch("hotfix", { createdAt: daysAgo(90) }),
      branch("feature/Upper_Case", { createdAt: daysAgo(90) }),
      branch("main_old_20261101", { parentId: null, createdAt: daysAgo(90) }),
    ];
    const plan = planUpkeep({
      branches: [main, ...others],
      endpoints: others.map((b) => endpoint(b, 0.25, 8, 0)),
      policies,
      now: NOW,
    });
    expect(plan).toEqual({ expire: [], keep: [], limits: [], unmanaged: 4 });
  });

  it("puts drifted read_write endpoints back on the policy in one PATCH each; read_only ones are not its", () => {
    const staging = branch("staging");
    const dev = branch("development", { parentId: staging.id });
    const feature = branch("feature/x", { parentId: dev.id });
    const plan = planUpkeep({
      branches: [main, staging, dev, feature],
      endpoints: [
        endpoint(staging, 0.25, 1, 0),
        endpoint(dev, 0.25, 1, 30), // as the policy says
        endpoint(feature, 0.25, 0.25, 300),
        endpoint(staging, 4, 4, 0, { id: "ep-replica", type: "read_only" }),
      ],
      policies,
      now: NOW,
    });
    expect(plan.limits).toEqual([
      {
        endpointId: `ep-${staging.id}`,
        branchId: staging.id,
        branch: "staging",
        fields: ["autoscaling_limit_min_cu", "autoscaling_limit_max_cu", "suspend_timeout_seconds"],
        patch: { autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 2, suspend_timeout_seconds: 60 },
      },
      {
        endpointId: `ep-${feature.id}`,
        branchId: feature.id,
        branch: "feature/x",
        fields: ["suspend_timeout_seconds"],
        patch: {
          autoscaling_limit_min_cu: 0.25,
          autoscaling_limit_max_cu: 0.25,
          suspend_timeout_seconds: 30,
        },
      },
    ]);
  });
});

describe("endpointFix on main's autoscaled endpoint", () => {
  const fix = (min: number, max: number, suspend: number, autoscaled = true) =>
    endpointFix(
      mainPolicy,
      { autoscaling_limit_min_cu: min, autoscaling_limit_max_cu: max, suspend_timeout_seconds: suspend },
      autoscaled,
    );

  it("leaves a max the autoscaler moved inside the policy's range", () => {
    for (const max of [2, 3, 4]) expect(fix(2, max, 300), `max ${max}`).toBeNull();
  });

  it("clamps a max outside the range, pins the min and the suspend timeout", () => {
    expect(fix(0.25, 2, 0)).toEqual({
      fields: ["autoscaling_limit_min_cu", "suspend_timeout_seconds"],
      patch: { autoscaling_limit_min_cu: 2, autoscaling_limit_max_cu: 2, suspend_timeout_seconds: 300 },
    });
    expect(fix(2, 8, 300)?.patch).toEqual({
      autoscaling_limit_min_cu: 2,
      autoscaling_limit_max_cu: 4,
      suspend_timeout_seconds: 300,
    });
    expect(fix(0.25, 1, 300)?.patch.autoscaling_limit_max_cu).toBe(2);
  });

  it("is the plain policy when the endpoint is not autoscaled", () => {
    expect(fix(2, 3, 300, false)?.patch).toEqual(mainPolicy.endpoint);
  });

  it("a non-default branch named main is not the autoscaler's", () => {
    const impostor = branch("main", { id: "br-other", default: false });
    const plan = planUpkeep({
      branches: [impostor],
      endpoints: [endpoint(impostor, 2, 3, 300)],
      policies,
      now: NOW,
    });
    expect(plan.limits.map((l) => l.patch)).toEqual([mainPolicy.endpoint]);
  });
});
