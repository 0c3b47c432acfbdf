import { describe, expect, it } from "vitest";
import { scheduleSlot } from "./slot";

const at = (iso: string) => new Date(iso);

describe("scheduleSlot", () => {
  it("maps every delivery of a daily run to that run's time", () => {
    const slot = "2026-11-29T03:00:00.000Z";
    for (const now of [
      "2026-11-29T03:00:00.000Z", // on the dot
      "2026-11-29T03:00:00.400Z",
      "2026-11-29T03:04:10Z", // a retry a few minutes later
      "2026-11-29T17:30:00Z", // a late redelivery the same day
      "2026-11-30T02:59:59.999Z", // until the next run is due
    ])
      expect(scheduleSlot("0 3 * * *", at(now)).toISOString(), now).toBe(slot);
    expect(scheduleSlot("0 3 * * *", at("2026-11-29T02:59:59.999Z")).toISOString()).toBe(
      "2026-11-28T03:00:00.000Z",
    );
  });

  it("floors to the minute for an every-minute schedule", () => {
    expect(scheduleSlot("* * * * *", at("2026-11-29T10:41:59.999Z")).toISOString()).toBe(
      "2026-11-29T10:41:00.000Z",
    );
    expect(scheduleSlot("* * * * *", at("2026-11-29T10:42:00.000Z")).toISOString()).toBe(
      "2026-11-29T10:42:00.000Z",
    );
  });

  it("crosses month and year ends", () => {
    expect(scheduleSlot("0 3 * * *", at("2027-01-01T01:00:00Z")).toISOString()).toBe(
      "2026-12-31T03:00:00.000Z",
    );
  });
});
