/** The Prometheus text encoder: escaping round-trips through a parser, names made valid, families checked. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emptyCounts, LATENCY_BOUNDS_MS } from "../../jobs/metrics/requests";
import { parsePrometheus, strictExpositionErrors } from "../../test/harness/prometheus";
import { liveFamilies, storedFamilies } from "./get";
import { encode, escapeHelp, escapeLabelValue, labelName, labelsFromJson } from "./prometheus";

/** Text heavy in what needs escaping: quotes, backslashes, newlines, braces, non-ASCII. */
const text = (maxLength: number) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({
      maxLength,
      unit: fc.constantFrom("a", '"', "\\", "\n", " ", "{", "}", "=", ",", "é", "n", "#"),
    }),
  );

describe("Prometheus text encoding", () => {
  it("escapes label values and HELP text as 0.0.4 says", () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(escapeHelp('say "hi"\\\n')).toBe('say "hi"\\\\\\n');
  });

  it("makes label names valid and keeps them apart", () => {
    expect(labelName("ok_name")).toBe("ok_name");
    expect(labelName("9lives")).toBe("_9lives");
    expect(labelName("a-b.c")).toBe("a_b_c");
    expect(labelName("__reserved")).toBe("label__reserved");
    expect(labelName("")).toBe("_");
    expect(labelsFromJson({ "a-b": "1", a_b: "2", n: 3, o: { x: 1 } })).toEqual({
      a_b: "1",
      a_b_2: "2",
      n: "3",
      o: '{"x":1}',
    });
    expect(labelsFromJson([1, 2])).toEqual({});
  });

  it("round-trips any label value and HELP text through the parser, and passes the strict checks", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), text(20), { maxKeys: 4 }),
        text(40),
        fc.double({ noNaN: true }),
        (rotulos, help, value) => {
          const labels = labelsFromJson(rotulos);
          const text = encode([{ name: "x_metric", help, type: "gauge", samples: [{ labels, value }] }]);
          expect(strictExpositionErrors(text)).toEqual([]);
          const [family] = parsePrometheus(text);
          expect(family!.name).toBe("x_metric");
          // The parser trims lines: a HELP's trailing blanks are its only loss.
          expect(family!.help).toBe(help.trim());
          expect(family!.metrics[0]!.labels ?? {}).toEqual(labels);
          const written = family!.metrics[0]!.value!;
          expect(written === "+Inf" ? Infinity : written === "-Inf" ? -Infinity : Number(written)).toBe(
            Object.is(value, -0) ? 0 : value,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses an invalid or repeated family name rather than writing a broken exposition", () => {
    expect(() => encode([{ name: "bad-name", help: "", type: "gauge", samples: [] }])).toThrow();
    const f = { name: "twice", help: "", type: "gauge" as const, samples: [] };
    expect(() => encode([f, f])).toThrow(/twice/);
  });

  it("writes request totals as a counter and a histogram with cumulative buckets and +Inf = _count", () => {
    const a = emptyCounts();
    a.status["2xx"] = 3;
    a.status["5xx"] = 1;
    a.buckets[0] = 1;
    a.buckets[5] = 2;
    a.buckets[LATENCY_BOUNDS_MS.length] = 1;
    a.sumUs = 40_000_500;
    const text = encode([
      ...storedFamilies([
        { metrica: "db_connections", rotulos: { state: "idle" }, t: 1, valor: 2 },
        { metrica: "db_connections", rotulos: { state: "active" }, t: 1, valor: 1 },
        { metrica: "http_requests_total", rotulos: {}, t: 1, valor: 99 },
        { metrica: "someone_elses_metric", rotulos: {}, t: 1, valor: 0.5 },
      ]),
      ...liveFamilies(new Map([["GET /v1/pacientes/:id", a]])),
    ]);
    expect(strictExpositionErrors(text)).toEqual([]);
    const families = parsePrometheus(text);
    expect(families.map((f) => `${f.name}:${f.type}`)).toEqual([
      "db_connections:GAUGE",
      "someone_elses_metric:GAUGE",
      "http_requests_total:COUNTER",
      "http_request_duration_seconds:HISTOGRAM",
    ]);
    const requests = families.find((f) => f.name === "http_requests_total")!;
    expect(requests.metrics).toEqual([
      { labels: { method: "GET", route: "/v1/pacientes/:id", status: "2xx" }, value: "3" },
      { labels: { method: "GET", route: "/v1/pacientes/:id", status: "5xx" }, value: "1" },
    ]);
    // The parser folds a labelled histogram's series together: read its lines instead.
    const line = (suffix: string, extra = "") =>
      text
        .split("\n")
        .find((l) =>
          l.startsWith(
            `http_request_duration_seconds${suffix}{method="GET",route="/v1/pacientes/:id"${extra}} `,
          ),
        );
    expect(line("_bucket", ',le="0.001"')).toMatch(/ 1$/);
    expect(line("_bucket", ',le="0.00464"')).toMatch(/ 1$/);
    expect(line("_bucket", ',le="0.00681"')).toMatch(/ 3$/);
    expect(line("_bucket", ',le="31.6"')).toMatch(/ 3$/);
    expect(line("_bucket", ',le="+Inf"')).toMatch(/ 4$/);
    expect(line("_count")).toMatch(/ 4$/);
    expect(Number(line("_sum")!.split(" ")[1])).toBeCloseTo(40.0005, 9);
    expect(text.split("\n").filter((l) => l.startsWith("http_request_duration_seconds_bucket"))).toHaveLength(
      LATENCY_BOUNDS_MS.length + 1,
    );
  });

  it("the strict checks catch what the lenient parser lets through", () => {
    expect(strictExpositionErrors("x 1\n")).toEqual(["line 1: sample of x before its TYPE"]);
    expect(strictExpositionErrors("# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n").join()).toMatch(
      /appears again/,
    );
    expect(strictExpositionErrors('# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2').join()).toMatch(
      /twice.*newline|newline.*twice/s,
    );
    expect(strictExpositionErrors("# TYPE x gauge\nx one\n").join()).toMatch(/bad value/);
    expect(
      strictExpositionErrors(
        '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 2\n',
      ).join(),
    ).toMatch(/decrease.*differs|differs.*decrease/s);
  });
});
