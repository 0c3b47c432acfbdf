/**
 * Neon's API names compute limits `autoscaling_limit_min_cu` / `autoscaling_limit_max_cu` on an
 * endpoint; the original plan's `compute_units` does not exist (DESIGN.md, mistake 11). No source
 * file may use it.
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
});
