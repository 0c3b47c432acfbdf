/**
 * The schemas of GET /v1/ops/metrics and /v1/ops/metrics/latest: the samples the metrics-poll job
 * writes to analytics.metricas (migration 0016), read through app.metricas_serie and
 * app.metricas_recentes. Names and labels as Prometheus has them (`api_latency_p95_ms`,
 * `{"state": "active"}`); instants as epoch milliseconds in a series (what chart libraries take)
 * and as ISO 8601 elsewhere.
 */
import { z } from "@hono/zod-openapi";

/** The table's own check (metricas_metrica_check): a name that can reach no other text. */
export const METRIC_NAME = /^[a-z_][a-z0-9_]{0,99}$/;
/** Metrics one request may name: a dashboard chart needs a handful. */
export const MAX_METRICS = 20;
/** The range the database function accepts (app.metricas_serie refuses longer ones too). */
export const MAX_RANGE_MS = 31 * 24 * 3600 * 1000;
export const DEFAULT_RANGE_MS = 3600 * 1000;
/** Rows app.metricas_serie answers at most: a series that reached it was cut short. */
export const SERIES_ROW_LIMIT = 100_000;
/** Instants before or after these are typing errors, not metrics (PostgreSQL has no year 0). */
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(2200, 0, 1);

const MetricName = z
  .string()
  .regex(METRIC_NAME, "a metric name: lowercase letters, digits and _, at most 100")
  .openapi({ example: "api_latency_p95_ms" });

/** `?metric=a&metric=b`: one value arrives as a string, several as an array. */
const metricList = (description: string) =>
  z
    .preprocess(
      (v) => (typeof v === "string" ? [v] : v),
      z
        .array(MetricName)
        .min(1)
        .max(MAX_METRICS)
        .transform((names) => [...new Set(names)]),
    )
    .openapi({
      param: { name: "metric", in: "query", style: "form", explode: true },
      description,
      example: ["api_latency_p50_ms", "api_latency_p95_ms"],
    });

const instant = z.iso.datetime({ offset: true }).refine((s) => {
  const t = Date.parse(s);
  return t >= EARLIEST && t <= LATEST;
}, "must be from 2000 to 2200");

export const MetricsRangeQuery = z.object({
  metric: metricList(
    `The metrics to read (repeat the parameter for several, at most ${MAX_METRICS}); required`,
  ),
  from: instant.optional().openapi({
    description: "Start of the range (inclusive), ISO 8601 with offset; default `to` minus one hour",
    example: "2026-03-01T11:00:00Z",
  }),
  to: instant.optional().openapi({
    description: "End of the range (inclusive); default now. At most 31 days after `from`",
    example: "2026-03-01T12:00:00Z",
  }),
});

export const MetricsLatestQuery = z.object({
  metric: metricList("Only these metrics (repeat for several); default every metric").optional(),
  window_minutes: z.coerce.number().int().min(1).max(1440).default(15).openapi({
    description: "How far back a sample may be and still count as the latest (1 to 1440 minutes)",
    example: 15,
  }),
});

const Labels = z.record(z.string(), z.string()).openapi({
  description: "The sample's labels ({} for none)",
  example: { state: "active" },
});

export const MetricSeries = z
  .object({
    metric: MetricName,
    labels: Labels,
    points: z.array(z.tuple([z.number().int(), z.number()])).openapi({
      description: "[epoch milliseconds, value] pairs, oldest first",
      example: [
        [1772362800000, 12.5],
        [1772362860000, 13.25],
      ],
    }),
  })
  .openapi("MetricSeries", { description: "The samples of one metric and label set" });

export const MetricsRange = z
  .object({
    from: z.iso.datetime().openapi({ description: "Start of the range read (UTC)" }),
    to: z.iso.datetime().openapi({ description: "End of the range read (UTC)" }),
    truncated: z.boolean().openapi({
      description: `The range held more than ${SERIES_ROW_LIMIT} samples: the last series are cut short or missing (ask for fewer metrics or a shorter range)`,
    }),
    series: z.array(MetricSeries).openapi({
      description: "One entry per metric and label set with samples in the range, by name then labels",
    }),
  })
  .openapi("MetricsRange");

export const MetricSample = z
  .object({
    metric: MetricName,
    labels: Labels,
    at: z.iso.datetime().openapi({ description: "When it was sampled (UTC)" }),
    value: z.number(),
  })
  .openapi("MetricSample");

export const MetricsLatest = z
  .object({
    window_minutes: z.number().int(),
    data: z.array(MetricSample).openapi({
      description: "The newest sample of every metric and label set seen in the window, by name then labels",
    }),
  })
  .openapi("MetricsLatest");

export type MetricSeries = z.infer<typeof MetricSeries>;
export type MetricSample = z.infer<typeof MetricSample>;
