import { parseDuration } from "./duration";
import { compileRetryDelay, type RetryDelay } from "./retry-delay";

/** What a publish (or a schedule, or one batch entry) asks for, read from its Upstash-* headers. */
export interface PublishSpec {
  method: string;
  /** Headers delivered to the destination (Upstash-Forward-* without the prefix, and Content-Type),
   * under canonical names, as QStash reports them: name → values. */
  header: Record<string, string[]>;
  body: Buffer;
  retries: number;
  retryDelayExpression?: string;
  retryDelay?: RetryDelay;
  /** Delay in ms (Upstash-Delay), relative to the publish time. */
  delayMs?: number;
  /** Absolute not-before in ms (Upstash-Not-Before, given in unix seconds). */
  notBefore?: number;
  timeoutMs?: number;
  deduplicationId?: string;
  contentBasedDeduplication: boolean;
  callback?: string;
  failureCallback?: string;
  callbackHeader: Record<string, string[]>;
  failureCallbackHeader: Record<string, string[]>;
  labels: string[];
  flowControlKey?: string;
  /** Upstash-Flow-Control-Value "parallelism=N, rate=M, period=Xs": at most N deliveries of the
   * key at a time, at most M started per period (default one second). */
  parallelism?: number;
  rate?: number;
  periodMs?: number;
  /** Upstash-Redact-Fields "body,header,header[Name]": what the API shows as REDACTED:<sha256>. */
  redact?: Redaction;
  /** Upstash-Cron and Upstash-Schedule-Id, for schedules only. */
  cron?: string;
  scheduleId?: string;
  /** Upstash-Queue-Name: the queue a schedule's messages go through. */
  queueName?: string;
}

export interface Redaction {
  body: boolean;
  /** Every header. */
  header: boolean;
  /** These headers (canonical names). */
  headers: string[];
}

export class SpecError extends Error {}

export const DEFAULT_RETRIES = 3;
const METHODS = new Set(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]);

/** "x-my-header" → "X-My-Header", as Go's http package canonicalizes names. */
export function canonicalHeaderName(name: string): string {
  return name
    .toLowerCase()
    .split("-")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("-");
}

function addHeader(target: Record<string, string[]>, name: string, value: string): void {
  const key = canonicalHeaderName(name);
  target[key] = [...(target[key] ?? []), value];
}

/** Parses the request headers (lower-case names) of a publish, batch entry or schedule. */
export function parsePublishSpec(headers: Map<string, string>, body: Buffer): PublishSpec {
  const header: Record<string, string[]> = {};
  const callbackHeader: Record<string, string[]> = {};
  const failureCallbackHeader: Record<string, string[]> = {};
  for (const [name, value] of headers) {
    if (name.startsWith("upstash-forward-")) addHeader(header, name.slice("upstash-forward-".length), value);
    else if (name.startsWith("upstash-callback-forward-"))
      addHeader(callbackHeader, name.slice("upstash-callback-forward-".length), value);
    else if (name.startsWith("upstash-failure-callback-forward-"))
      addHeader(failureCallbackHeader, name.slice("upstash-failure-callback-forward-".length), value);
    else if (name === "content-type") addHeader(header, name, value);
  }

  const method = (headers.get("upstash-method") ?? "POST").toUpperCase();
  if (!METHODS.has(method)) throw new SpecError(`invalid Upstash-Method: ${method}`);

  const retriesText = headers.get("upstash-retries");
  const retries = retriesText === undefined ? DEFAULT_RETRIES : Number(retriesText);
  if (!Number.isInteger(retries) || retries < 0)
    throw new SpecError(`invalid Upstash-Retries: ${retriesText}`);

  const spec: PublishSpec = {
    method,
    header,
    body,
    retries,
    contentBasedDeduplication: headers.get("upstash-content-based-deduplication") === "true",
    callbackHeader,
    failureCallbackHeader,
    labels: [],
  };

  spec.delayMs = optionalDuration(headers, "upstash-delay");
  const notBefore = headers.get("upstash-not-before");
  if (notBefore !== undefined) {
    const seconds = Number(notBefore);
    if (!Number.isFinite(seconds) || seconds < 0)
      throw new SpecError(`invalid Upstash-Not-Before: ${notBefore}`);
    spec.notBefore = seconds * 1000;
  }
  spec.timeoutMs = optionalDuration(headers, "upstash-timeout");
  const retryDelay = headers.get("upstash-retry-delay");
  if (retryDelay !== undefined) {
    try {
      spec.retryDelay = compileRetryDelay(retryDelay);
      spec.retryDelayExpression = retryDelay;
    } catch (error) {
      throw new SpecError(`invalid Upstash-Retry-Delay: ${(error as Error).message}`);
    }
  }
  spec.deduplicationId = headers.get("upstash-deduplication-id");
  spec.callback = optionalUrl(headers, "upstash-callback");
  spec.failureCallback = optionalUrl(headers, "upstash-failure-callback");
  const label = headers.get("upstash-label");
  if (label) spec.labels = label.split(",").map((part) => part.trim());
  spec.flowControlKey = headers.get("upstash-flow-control-key");
  const flowValue = headers.get("upstash-flow-control-value");
  if (spec.flowControlKey !== undefined && flowValue !== undefined) {
    Object.assign(spec, parseFlowControlValue(flowValue));
  }
  const redact = headers.get("upstash-redact-fields");
  if (redact !== undefined) spec.redact = parseRedaction(redact);
  spec.cron = headers.get("upstash-cron");
  spec.scheduleId = headers.get("upstash-schedule-id");
  spec.queueName = headers.get("upstash-queue-name");
  return spec;
}

/** "parallelism=2, rate=10, period=1m" (any subset, any order; period is a duration, bare = s). */
export function parseFlowControlValue(value: string): Pick<PublishSpec, "parallelism" | "rate" | "periodMs"> {
  const result: Pick<PublishSpec, "parallelism" | "rate" | "periodMs"> = {};
  for (const part of value.split(",")) {
    const trimmed = part.trim();
    if (trimmed === "") continue;
    const [name, text = ""] = trimmed.split("=").map((piece) => piece.trim());
    if (name === "period") {
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) throw new SpecError(`invalid flow control period: ${text}`);
      result.periodMs = ms;
      continue;
    }
    const number = Number(text);
    if (!/^\d+$/.test(text) || number <= 0) throw new SpecError(`invalid flow control ${name}: ${text}`);
    if (name === "parallelism") result.parallelism = number;
    else if (name === "rate" || name === "ratePerSecond") result.rate = number;
    else throw new SpecError(`invalid Upstash-Flow-Control-Value: ${value}`);
  }
  if (result.parallelism === undefined && result.rate === undefined)
    throw new SpecError(`Upstash-Flow-Control-Value needs parallelism or rate: ${value}`);
  return result;
}

function parseRedaction(value: string): Redaction {
  const redaction: Redaction = { body: false, header: false, headers: [] };
  for (const part of value.split(",")) {
    const field = part.trim();
    const named = /^headers?\[(.+)\]$/.exec(field);
    if (field === "body") redaction.body = true;
    else if (field === "header" || field === "headers") redaction.header = true;
    else if (named) redaction.headers.push(canonicalHeaderName(named[1]!));
    else if (field !== "") throw new SpecError(`invalid Upstash-Redact-Fields: ${value}`);
  }
  return redaction;
}

function optionalDuration(headers: Map<string, string>, name: string): number | undefined {
  const value = headers.get(name);
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) throw new SpecError(`invalid ${canonicalHeaderName(name)}: ${value}`);
  return ms;
}

function optionalUrl(headers: Map<string, string>, name: string): string | undefined {
  const value = headers.get(name);
  if (value === undefined) return undefined;
  if (!isHttpUrl(value)) throw new SpecError(`invalid ${canonicalHeaderName(name)}: ${value}`);
  return value;
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/** Node's IncomingHttpHeaders (or a batch entry's header object) as a lower-case map. */
export function headerMap(headers: Record<string, string | string[] | undefined>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    map.set(name.toLowerCase(), Array.isArray(value) ? value.join(", ") : value);
  }
  return map;
}
