/** Shapes of the JSON QStash returns, built from our records. Fields that do not apply are
 * omitted, as QStash's Go server omits empty fields. */
import { createHash } from "node:crypto";
import type { PublishSpec, Redaction } from "./spec";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** `{ body }` when the bytes are UTF-8 text, `{ bodyBase64 }` otherwise (QStash's convention). */
export function bodyFields(body: Buffer, prefix = "body"): Record<string, string> {
  if (body.length === 0) return {};
  try {
    return { [prefix]: strictUtf8.decode(body) };
  } catch {
    return { [`${prefix}Base64`]: body.toString("base64") };
  }
}

/** `label` (the first) and `labels`, as messages, schedules and logs all report them. */
export function labelFields(labels: string[]): { label?: string; labels?: string[] } {
  return { label: labels[0], labels: labels.length > 0 ? labels : undefined };
}

/** How QStash shows a redacted value: REDACTED:<sha256 of the value>. */
export function redacted(value: string | Buffer): string {
  return `REDACTED:${createHash("sha256").update(value).digest("hex")}`;
}

/** The headers as the API shows them: redacted ones (all, or those named) as REDACTED:<sha256>. */
export function shownHeader(
  header: Record<string, string[]>,
  redaction: Redaction | undefined,
): Record<string, string[]> {
  if (!redaction || (!redaction.header && redaction.headers.length === 0)) return header;
  const hidden = new Set(redaction.headers.map((name) => name.toLowerCase()));
  return Object.fromEntries(
    Object.entries(header).map(([name, values]) => [
      name,
      redaction.header || hidden.has(name.toLowerCase()) ? values.map(redacted) : values,
    ]),
  );
}

/** `bodyFields` of a published body, redacted if asked. */
export function shownBodyFields(body: Buffer, redaction: Redaction | undefined): Record<string, string> {
  if (redaction?.body && body.length > 0) return { body: redacted(body) };
  return bodyFields(body);
}

/** The fields a message and a schedule both report from what was published. */
export function specFields(spec: PublishSpec): Record<string, unknown> {
  return {
    method: spec.method,
    header: shownHeader(spec.header, spec.redact),
    ...shownBodyFields(spec.body, spec.redact),
    retryDelayExpression: spec.retryDelayExpression,
    callback: spec.callback,
    failureCallback: spec.failureCallback,
    callerIp: "127.0.0.1",
    flowControlKey: spec.flowControlKey,
    parallelism: spec.parallelism,
    rate: spec.rate,
    period: spec.rate === undefined ? undefined : Math.round((spec.periodMs ?? 1000) / 1000),
    ...labelFields(spec.labels),
  };
}

/** Drops undefined fields so the JSON looks like QStash's (omitempty). */
export function compact<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export function randomId(prefix: string): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  let id = prefix;
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}
