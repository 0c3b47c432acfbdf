/**
 * What a webhook receives, and the ids that make it arrive once. The body is the rule's name and
 * thresholds, the metric's value and labels, the state and its times: no PII (metrics carry
 * none), no secret (never a webhook URL or a connection string).
 */
import type { NotificationKind, Operator, Transition } from "./state";

export type Severity = "info" | "warning" | "critical";

/** A rule as the job reads it (analytics.alertas_regras). */
export interface AlertRule {
  id: string;
  name: string;
  metric: string;
  operator: Operator;
  threshold: number;
  forSeconds: number;
  severity: Severity;
  repeatSeconds: number;
  /** Label subset a sample must carry ({}: every label set of the metric). */
  match: Record<string, string>;
  /** Attached to notifications. */
  labels: Record<string, string>;
  webhooks: string[];
}

export interface AlertNotification {
  /** The same for every webhook of one announcement: a receiver may drop what it has seen. */
  id: string;
  status: NotificationKind;
  /** A still-firing alert announced again after its repeat interval. */
  repeat: boolean;
  rule_id: string;
  rule_name: string;
  metric: string;
  operator: Operator;
  threshold: number;
  value: number;
  severity: Severity;
  /** The instance's metric labels with the rule's labels over them. */
  labels: Record<string, string>;
  /** The metric labels that tell this instance from the rule's others ({} for an unlabelled metric). */
  instance: Record<string, string>;
  /** When the firing episode began (ISO 8601). */
  since: string;
  /** The sample time of this transition (ISO 8601). */
  at: string;
}

/** Labels as one string, keys sorted: the same label set always gives the same text. */
export function canonicalLabels(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  );
}

/** Whether a sample's labels carry every key/value of the rule's `match`. */
export function matches(match: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(match).every(([k, v]) => labels[k] === v);
}

async function sha256Hex(text: string, chars: number): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, chars);
}

/** The announcement's id: rule, label set, transition and its sample time. */
export async function notificationId(
  ruleId: string,
  instance: Record<string, string>,
  t: Pick<Transition, "from" | "to" | "at">,
): Promise<string> {
  return `alert-${ruleId}-${await sha256Hex(canonicalLabels(instance), 16)}-${t.from}-${t.to}-${t.at}`;
}

/** QStash's Upstash-Deduplication-Id for one webhook: the announcement's id and the URL's hash. */
export async function deduplicationId(id: string, url: string): Promise<string> {
  return `${id}-${await sha256Hex(url, 16)}`;
}

export async function notificationBody(
  rule: AlertRule,
  instance: Record<string, string>,
  t: Transition,
  episodeSince: number,
): Promise<AlertNotification> {
  return {
    id: await notificationId(rule.id, instance, t),
    status: t.notify!,
    repeat: t.from === "firing" && t.to === "firing",
    rule_id: rule.id,
    rule_name: rule.name,
    metric: rule.metric,
    operator: rule.operator,
    threshold: rule.threshold,
    value: t.value,
    severity: rule.severity,
    labels: { ...instance, ...rule.labels },
    instance,
    since: new Date(episodeSince).toISOString(),
    at: new Date(t.at).toISOString(),
  };
}
