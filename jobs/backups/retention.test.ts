/** Backup names and retention over a simulated month (the pure part of issue 13's backups). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backupName, backupTime, retention } from "./retention";

describe("backup retention", () => {
  it("names backups by UTC time, and reads the time back", () => {
    const at = new Date("2026-11-29T03:00:00Z");
    expect(backupName(at)).toBe("backup/2026-11-29T03-00-00Z");
    expect(backupTime(backupName(at))?.toISOString()).toBe(at.toISOString());
    expect(backupTime("main")).toBeNull();
    expect(backupTime("backup/2026-13-40T03-00-00Z")).toBeNull();
  });

  it("over a simulated month of daily backups, keeps exactly the last 7 days and the last 4 weeks", () => {
    // Every day of November 2026 at 03:00 UTC, plus a second, manual backup on the 29th.
    const names: string[] = [];
    for (let d = 1; d <= 29; d++) names.push(backupName(new Date(Date.UTC(2026, 10, d, 3))));
    names.push(backupName(new Date(Date.UTC(2026, 10, 29, 15))), "main", "feature/x");
    let live = names;
    // The job runs daily and deletes what retention says; the result is the same as one run.
    const { keep, delete: gone } = retention(live, { daily: 7, weekly: 4 });
    live = live.filter((n) => !gone.includes(n));
    expect(keep).toEqual([
      "backup/2026-11-29T15-00-00Z", // newest of the 29th (a Sunday: also newest of its week)
      "backup/2026-11-28T03-00-00Z",
      "backup/2026-11-27T03-00-00Z",
      "backup/2026-11-26T03-00-00Z",
      "backup/2026-11-25T03-00-00Z",
      "backup/2026-11-24T03-00-00Z",
      "backup/2026-11-23T03-00-00Z",
      "backup/2026-11-22T03-00-00Z", // Sunday: newest of the week of the 16th
      "backup/2026-11-15T03-00-00Z", // newest of the week of the 9th
      "backup/2026-11-08T03-00-00Z", // newest of the week of the 2nd
    ]);
    expect(live).toContain("main");
    expect(live).toContain("feature/x");
    expect(retention(live, { daily: 7, weekly: 4 }).delete).toEqual([]);
  });

  it("always keeps the newest, is idempotent, and refuses a policy that keeps nothing", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 60 * 24 }), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 6 }),
        (hours, daily, weekly) => {
          fc.pre(daily + weekly > 0);
          const names = hours.map((h) => backupName(new Date(Date.UTC(2026, 9, 1) + h * 3_600_000)));
          const r = retention(names, { daily, weekly });
          const newest = [...names].sort().at(-1)!;
          expect(r.keep).toContain(newest);
          expect(r.keep.length + r.delete.length).toBe(names.length);
          expect(r.keep.length).toBeLessThanOrEqual(1 + daily + weekly);
          expect(retention(r.keep, { daily, weekly }).delete).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
    expect(() => retention([], { daily: 0, weekly: 0 })).toThrow(/keeps nothing/);
    expect(() => retention([], { daily: -1, weekly: 1 })).toThrow(/daily/);
  });
});
