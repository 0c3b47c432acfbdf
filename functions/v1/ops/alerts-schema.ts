/**
 * The schemas of /v1/ops/alerts: alert rules as admins write and read them (snake_case, English
 * names over analytics.alertas_regras' Portuguese columns), their instances' states, and the
 * history of transitions. Webhook URLs are checked here for shape; that they are https outside
 * development and test is checked by the routes, which know ENVIRONMENT.
 */
import { z } from "@hono/zod-openapi";
import { ALERT_STATES, OPERATORS } from "../../../jobs/alerts/state";

const noControl = (s: string) => !/\p{Cc}/u.test(s);
const LABEL_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const labelMap = (values: z.ZodString) =>
  z
    .record(
      z.string().regex(LABEL_KEY, "a label name is [A-Za-z_][A-Za-z0-9_]*, at most 63 characters"),
      values,
    )
    .refine((o) => Object.keys(o).length <= 20, "at most 20 labels");

export const AlertSeverity = z.enum(["info", "warning", "critical"]).openapi("AlertSeverity");
export const AlertOperator = z.enum(OPERATORS).openapi("AlertOperator", {
  description: "How the sample compares with the threshold (no equality on floats)",
});
export const AlertState = z.enum(ALERT_STATES).openapi("AlertState");

const name = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine(noControl, "must not contain control characters")
  .openapi({ example: "api-latency-p95-high" });
const metric = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,99}$/, "a metric name as analytics.metricas writes it")
  .openapi({ example: "api_latency_p95_ms" });
const threshold = z.number().openapi({ description: "Finite", example: 100 });
const forSeconds = z
  .number()
  .int()
  .min(0)
  .max(86_400)
  .openapi({ description: "How long the condition must hold before the alert fires (0: at once)" });
const repeatSeconds = z.number().int().min(60).max(604_800).openapi({
  description: "A still-firing alert is announced again after this long, and never sooner",
});
const match = labelMap(
  z.string().min(1).max(200).refine(noControl, "must not contain control characters"),
).openapi({
  description:
    "Metric labels a sample must carry to count ({}: every label set). Each matching label set is an alert instance of its own",
  example: { endpoint: "ep-replica-1" },
});
const labels = labelMap(z.string().max(200).refine(noControl, "must not contain control characters")).openapi(
  {
    description: "Attached to every notification of the rule",
    example: { team: "ops" },
  },
);
const webhook = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      const url = new URL(u);
      return (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password;
    } catch {
      return false;
    }
  }, "an http(s) URL without credentials");
const webhooks = z
  .array(webhook)
  .max(10)
  .refine((w) => new Set(w).size === w.length, "each URL once")
  .openapi({
    description: "Notified through QStash on fire and resolve; https in staging and production",
    example: ["https://hooks.example.com/fisioflow"],
  });

/**
 * The webhooks (their indexes) not allowed in `environment`: plain http outside development and
 * test, where it would carry alerts in the clear.
 */
export function insecureWebhooks(environment: string, urls: readonly string[]): number[] {
  if (environment !== "staging" && environment !== "production") return [];
  return urls.flatMap((u, i) => (new URL(u).protocol === "https:" ? [] : [i]));
}

export const CreateAlertRule = z
  .object({
    name,
    metric,
    operator: AlertOperator,
    threshold,
    for_seconds: forSeconds.default(0),
    severity: AlertSeverity.default("warning"),
    repeat_seconds: repeatSeconds.default(14_400),
    match: match.default({}),
    labels: labels.default({}),
    webhooks: webhooks.default([]),
    enabled: z.boolean().default(true),
  })
  .strict()
  .openapi("CreateAlertRule");
export type CreateAlertRule = z.infer<typeof CreateAlertRule>;

export const UpdateAlertRule = z
  .object({
    name: name.optional(),
    metric: metric.optional(),
    operator: AlertOperator.optional(),
    threshold: threshold.optional(),
    for_seconds: forSeconds.optional(),
    severity: AlertSeverity.optional(),
    repeat_seconds: repeatSeconds.optional(),
    match: match.optional(),
    labels: labels.optional(),
    webhooks: webhooks.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "nothing to update")
  .openapi("UpdateAlertRule");
export type UpdateAlertRule = z.infer<typeof UpdateAlertRule>;

const timestamp = z.iso.datetime().openapi({ example: "2030-01-01T12:00:00.000Z" });

export const AlertInstance = z
  .object({
    instance: z.record(z.string(), z.string()).openapi({ description: "The metric labels of this instance" }),
    state: AlertState,
    since: timestamp.nullable().openapi({ description: "When this state began (a sample time)" }),
    value: z.number().nullable().openapi({ description: "The newest sample's value" }),
    sample_at: timestamp.nullable().openapi({ description: "The newest sample evaluated" }),
  })
  .openapi("AlertInstance");

export const AlertRule = z
  .object({
    id: z.uuid(),
    name: z.string(),
    metric: z.string(),
    operator: AlertOperator,
    threshold: z.number(),
    for_seconds: z.number().int(),
    severity: AlertSeverity,
    repeat_seconds: z.number().int(),
    match: z.record(z.string(), z.string()),
    labels: z.record(z.string(), z.string()),
    webhooks: z.array(z.string()),
    enabled: z.boolean(),
    created_at: timestamp,
    updated_at: timestamp,
    state: AlertState.openapi({
      description: "The most urgent state of its instances (firing, pending, resolved, inactive)",
    }),
    since: timestamp.nullable().openapi({ description: "When that instance entered that state" }),
    value: z.number().nullable().openapi({ description: "That instance's newest value" }),
    instances: z.array(AlertInstance),
  })
  .openapi("AlertRule");
export type AlertRule = z.infer<typeof AlertRule>;

export const AlertRuleList = z.object({ data: z.array(AlertRule) }).openapi("AlertRuleList");

export const ListAlertRulesQuery = z.object({
  state: AlertState.optional().openapi({
    param: { name: "state", in: "query" },
    description: "Only rules in this state (`firing`: rules with a firing instance)",
  }),
});

export const AlertTransition = z
  .object({
    id: z.string().regex(/^\d+$/),
    rule_id: z.uuid(),
    rule_name: z.string(),
    metric: z.string(),
    instance: z.record(z.string(), z.string()),
    from: AlertState,
    to: AlertState,
    at: timestamp.openapi({ description: "The sample time of the change" }),
    value: z.number().nullable(),
    operator: AlertOperator,
    threshold: z.number(),
    severity: AlertSeverity,
    notification: z.enum(["firing", "resolved"]).nullable().openapi({
      description: "What was announced (null: a change that is not announced)",
    }),
    deliveries: z
      .object({
        webhooks: z.number().int(),
        sent: z.number().int().openapi({ description: "Taken by QStash, which delivers and retries" }),
        given_up: z.number().int().openapi({ description: "Refused by QStash too many times" }),
      })
      .openapi({ description: "The webhook notifications queued for this change" }),
  })
  .openapi("AlertTransition");

export const AlertHistoryPage = z
  .object({
    data: z.array(AlertTransition),
    next_cursor: z.string().nullable().openapi({ description: "Pass as ?cursor= for older entries" }),
  })
  .openapi("AlertHistoryPage");

export const AlertHistoryQuery = z.object({
  rule_id: z
    .uuid()
    .optional()
    .openapi({ param: { name: "rule_id", in: "query" } }),
  from: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ param: { name: "from", in: "query" } }),
  to: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ param: { name: "to", in: "query" } }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(50)
    .openapi({ param: { name: "limit", in: "query" } }),
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ param: { name: "cursor", in: "query" } }),
});
