/**
 * Neon's API names compute limits `autoscaling_limit_min_cu` / `autoscaling_limit_max_cu` on an
 * endpoint; the original plan's `compute_units` does not exist (DESIGN.md, mistake 11). No source
 * file may use it. And a read replica is a `read_only` endpoint on the same branch, never a branch:
 * the code that makes or finds replicas creates endpoints, not branches.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const WRONG = ["compute", "units"].join("_");
const ROOTS = ["functions", "jobs", "db", "dev", "scripts", "bench"];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.(ts|sql|md)$/.test(name)) out.push(path);
  }
  return out;
}

describe("Neon names", () => {
  it(`no source file uses "${WRONG}"`, () => {
    const files = ROOTS.flatMap((r) => sources(r));
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => readFileSync(f, "utf8").includes(WRONG))).toEqual([]);
  });

  it("replicas are read_only endpoints: no replica code creates a branch", () => {
    const replicaCode = ROOTS.flatMap((r) => sources(r)).filter(
      (f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && /replica/i.test(f),
    );
    // functions/lib/replicas.ts (discovery) and the /v1/ops/replicas routes, at least.
    expect(replicaCode.length).toBeGreaterThanOrEqual(1);
    for (const f of replicaCode) {
      const text = readFileSync(f, "utf8");
      expect(text, f).not.toMatch(/createBranch\s*\(|branches\.create\s*\(|createProjectBranch/);
    }
    const discovery = readFileSync("functions/lib/replicas.ts", "utf8");
    expect(discovery).toMatch(/type === "read_only"/);
  });
});
