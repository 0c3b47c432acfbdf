/** The request-metrics codec: buckets, field layout and the percentile estimate (property tests). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bucketIndex,
  decodeHash,
  estimateQuantile,
  LATENCY_BOUNDS_MS,
  minuteOf,
  observationFields,
  statusClass,
  summarize,
  windowOf,
} from "./requests";

/** Non-cumulative bucket counts of some latencies. */
function bucketsOf(latencies: readonly number[]): number[] {
  const b = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  for (const l of latencies) b[bucketIndex(l)]! += 1;
  return b;
}

/** The nearest-rank q-quantile: the smallest sample with at least q·N samples at or below it. */
function trueQuantile(latencies: readonly number[], q: number): number {
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

const latency = fc.oneof(
  fc.double({ min: 0, max: 40_000, noNaN: true }),
  fc.double({ min: 0, max: 200, noNaN: true }),
  fc.constantFrom(...LATENCY_BOUNDS_MS),
);

describe("latency buckets", () => {
  it("are fixed, log-spaced (six per decade) and strictly increasing from 1 ms to 31.6 s", () => {
    expect(LATENCY_BOUNDS_MS[0]).toBe(1);
    expect(LATENCY_BOUNDS_MS).toContain(100);
    expect(LATENCY_BOUNDS_MS.at(-1)).toBe(31_600);
    for (let i = 1; i < LATENCY_BOUNDS_MS.length; i++) {
      const ratio = LATENCY_BOUNDS_MS[i]! / LATENCY_BOUNDS_MS[i - 1]!;
      expect(ratio).toBeGreaterThan(1.45);
      expect(ratio).toBeLessThan(1.49);
    }
  });

  it("put a latency in the first bucket whose bound is >= it (bounds inclusive), past the last in overflow", () => {
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(1)).toBe(0);
    expect(bucketIndex(1.0001)).toBe(1);
    expect(bucketIndex(100)).toBe(LATENCY_BOUNDS_MS.indexOf(100));
    expect(bucketIndex(1e9)).toBe(LATENCY_BOUNDS_MS.length);
    fc.assert(
      fc.property(latency, (l) => {
        const i = bucketIndex(l);
        if (i < LATENCY_BOUNDS_MS.length) expect(l).toBeLessThanOrEqual(LATENCY_BOUNDS_MS[i]!);
        if (i > 0) expect(l).toBeGreaterThan(LATENCY_BOUNDS_MS[i - 1]!);
      }),
    );
  });
});

describe("estimateQuantile", () => {
  it("is null without samples or with a q outside (0, 1]", () => {
    expect(estimateQuantile(bucketsOf([]), 0.5)).toBeNull();
    expect(estimateQuantile(bucketsOf([5]), 0)).toBeNull();
    expect(estimateQuantile(bucketsOf([5]), 1.5)).toBeNull();
  });

  it("interpolates linearly inside the bucket: 100 samples spread evenly over (10, 14.7]", () => {
    const b = bucketsOf(Array.from({ length: 100 }, (_, i) => 10 + (4.7 * (i + 1)) / 100));
    expect(estimateQuantile(b, 0.5)).toBeCloseTo(10 + 4.7 * 0.5, 9);
    expect(estimateQuantile(b, 0.95)).toBeCloseTo(10 + 4.7 * 0.95, 9);
  });

  it("answers the last bound in the overflow bucket (nothing above it is known)", () => {
    expect(estimateQuantile(bucketsOf([50_000, 60_000]), 0.99)).toBe(31_600);
  });

  it("always lies in the bucket holding the true quantile: within its bounds, a factor 1.47 at most", () => {
    fc.assert(
      fc.property(
        fc.array(latency, { minLength: 1, maxLength: 400 }),
        fc.constantFrom(0.5, 0.9, 0.95, 0.99, 1),
        (latencies, q) => {
          const est = estimateQuantile(bucketsOf(latencies), q)!;
          const truth = trueQuantile(latencies, q);
          const i = bucketIndex(truth);
          if (i === LATENCY_BOUNDS_MS.length) {
            expect(est).toBe(LATENCY_BOUNDS_MS.at(-1));
            return;
          }
          const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
          expect(est).toBeGreaterThanOrEqual(lower);
          expect(est).toBeLessThanOrEqual(LATENCY_BOUNDS_MS[i]!);
          if (i > 0) expect(Math.max(est, truth) / Math.min(est, truth)).toBeLessThanOrEqual(1.47 + 1e-9);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("is monotonic in q: p50 <= p95 <= p99", () => {
    fc.assert(
      fc.property(fc.array(latency, { minLength: 1, maxLength: 200 }), (latencies) => {
        const b = bucketsOf(latencies);
        const [p50, p95, p99] = [0.5, 0.95, 0.99].map((q) => estimateQuantile(b, q)!);
        expect(p50).toBeLessThanOrEqual(p95!);
        expect(p95).toBeLessThanOrEqual(p99!);
      }),
    );
  });
});

describe("hash fields", () => {
  it("count a request under its route template, status class and bucket; latency summed in µs", () => {
    expect(
      observationFields({
        method: "get",
        route: "/v1/pacientes/:id",
        status: 404,
        latencyMs: 12.3456,
        at: 0,
      }),
    ).toEqual({
      "GET /v1/pacientes/:id|4xx": 1,
      "GET /v1/pacientes/:id|le:14.7": 1,
      "GET /v1/pacientes/:id|sum_us": 12346,
    });
    expect(
      observationFields({ method: "BREW", route: "unmatched", status: 200, latencyMs: 1e6, at: 0 }),
    ).toEqual({ "OTHER unmatched|2xx": 1, "OTHER unmatched|le:+Inf": 1, "OTHER unmatched|sum_us": 1e9 });
    expect([100, 200, 302, 499, 500, 599, 0, 700].map(statusClass)).toEqual([
      "1xx",
      "2xx",
      "3xx",
      "4xx",
      "5xx",
      "5xx",
      "1xx",
      "5xx",
    ]);
    expect(minuteOf(Date.UTC(2030, 0, 1, 0, 1, 59, 999))).toBe(Date.UTC(2030, 0, 1, 0, 1) / 60_000);
  });

  it("decode back to what was recorded (values as Redis returns them: numbers or strings)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            route: fc.constantFrom("/v1/pacientes/:id", "/v1/consultas", "unmatched"),
            method: fc.constantFrom("GET", "POST"),
            status: fc.constantFrom(200, 201, 304, 404, 500, 503),
            latencyMs: latency,
          }),
          { minLength: 1, maxLength: 100 },
        ),
        fc.boolean(),
        (obs, asStrings) => {
          const hash: Record<string, number> = {};
          for (const o of obs)
            for (const [f, by] of Object.entries(observationFields({ ...o, at: 0 })))
              hash[f] = (hash[f] ?? 0) + by;
          const raw = asStrings
            ? Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, String(v)]))
            : hash;
          const w = windowOf(decodeHash(raw), 10, 11);
          expect(w.overall.requests).toBe(obs.length);
          expect(w.overall.qps).toBeCloseTo(obs.length / 60, 12);
          expect(w.overall.errorRate).toBeCloseTo(obs.filter((o) => o.status >= 500).length / obs.length, 12);
          expect(w.routes.reduce((n, r) => n + r.requests, 0)).toBe(obs.length);
          const expected = estimateQuantile(bucketsOf(obs.map((o) => o.latencyMs)), 0.95);
          expect(w.overall.p95).toBe(expected);
        },
      ),
    );
  });

  it("ignores fields it does not know and summarizes an empty window as zeros and nulls", () => {
    const w = windowOf(decodeHash({ "GET /x|weird": 3, nobar: 1, "GET /x|2xx": "n/a" }), 0, 5);
    expect(w.routes).toEqual([]);
    expect(w.overall).toMatchObject({ requests: 0, qps: 0, errorRate: 0, p50: null, p95: null, p99: null });
    expect(
      summarize(
        decodeHash({ "GET /x|5xx": 2, "GET /x|le:3.16": 2, "GET /x|sum_us": 5000 }).get("GET /x")!,
        60,
      ),
    ).toMatchObject({ requests: 2, errorRate: 1, meanMs: 2.5 });
  });
});
