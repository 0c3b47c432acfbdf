import { createHash } from "node:crypto";
import { type DeliveryResponse, deliver } from "./deliver";
import { FlowControls } from "./flow-control";
import {
  bodyFields,
  compact,
  labelFields,
  randomId,
  shownBodyFields,
  shownHeader,
  specFields,
} from "./payload";
import { signDelivery } from "./sign";
import { DEFAULT_RETRIES, isHttpUrl, type PublishSpec } from "./spec";
import { UrlGroups } from "./url-groups";

export interface EngineOptions {
  currentSigningKey: string;
  /** First retry waits this long; each next one twice as long (capped at a day). */
  retryBaseDelayMs: number;
  now: () => number;
  /** The wall clock the Upstash-Signature's iat/nbf/exp are taken from. */
  signatureNow: () => number;
  log: (line: string) => void;
}

/** A message waiting for, or in the middle of, delivery. Delivered and dead ones are dropped. */
interface StoredMessage {
  messageId: string;
  url: string;
  spec: PublishSpec;
  createdAt: number;
  /** When the next attempt may start. */
  dueAt: number;
  notBefore?: number;
  /** Attempts already made (sent as Upstash-Retried). */
  retried: number;
  scheduleId?: string;
  queueName?: string;
  /** The URL group (QStash's topic) it was published to, and the endpoint's name there. */
  topicName?: string;
  endpointName?: string;
  /** Set while an attempt runs: at most one attempt per message at a time. */
  inFlight?: AbortController;
  /** A queued message holds its queue slot from its first attempt until it is done. */
  started: boolean;
  cancelled: boolean;
  /** Callback messages get no callbacks of their own. */
  isCallback: boolean;
}

interface DlqEntry {
  seq: number;
  dlqId: string;
  message: StoredMessage;
  failedAt: number;
  response?: DeliveryResponse;
  error?: string;
}

type EventState = "CREATED" | "ACTIVE" | "DELIVERED" | "ERROR" | "RETRY" | "FAILED" | "CANCELED";

interface EventRecord {
  seq: number;
  time: number;
  state: EventState;
  message: StoredMessage;
  nextDeliveryTime?: number;
  error?: string;
  responseStatus?: number;
}

interface QueueRecord {
  name: string;
  parallelism: number;
  paused: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface PublishResult {
  messageId: string;
  url: string;
  deduplicated?: boolean;
}

export interface PublishExtra {
  scheduleId?: string;
  queueName?: string;
  isCallback?: boolean;
  topicName?: string;
  endpointName?: string;
}

/** A publish to a name that is neither a URL nor a known URL group. */
export class UnknownDestinationError extends Error {}

/** Filters of the bulk and list endpoints (query parameters, all optional). */
export type Filter = URLSearchParams;

const DEDUP_WINDOW_MS = 10 * 60_000;
const MAX_RETRY_DELAY_MS = 24 * 3_600_000;
const DEFAULT_TIMEOUT_MS = 15 * 60_000;
const MAX_EVENTS = 10_000;
const DEFAULT_PAGE = 100;

export class QStashEngine {
  private readonly messages = new Map<string, StoredMessage>();
  private readonly dlq = new Map<string, DlqEntry>();
  private readonly dedup = new Map<string, { messageId: string; expiresAt: number }>();
  private readonly events: EventRecord[] = [];
  private readonly queues = new Map<string, QueueRecord>();
  readonly flowControls = new FlowControls();
  readonly urlGroups = new UrlGroups();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly idleWaiters = new Set<{ resolve: () => void; reject: (error: Error) => void }>();
  private seq = 0;
  private closed = false;
  /** Told when a message finishes: (scheduleId, messageId, outcome). */
  onFinished?: (message: { scheduleId?: string; messageId: string }, outcome: "SUCCESS" | "FAIL") => void;

  constructor(private readonly options: EngineOptions) {}

  get now(): number {
    return this.options.now();
  }

  // --- publishing -------------------------------------------------------------------------

  /** A publish to a URL (one result) or to a URL group (one message per endpoint, an array). */
  publishTo(
    destination: string,
    spec: PublishSpec,
    extra: PublishExtra = {},
  ): PublishResult | PublishResult[] {
    if (isHttpUrl(destination)) return this.publish(destination, spec, extra);
    const group = this.urlGroups.get(destination);
    if (!group) throw new UnknownDestinationError(`url group ${destination} not found`);
    return group.endpoints.map((endpoint) =>
      this.publish(endpoint.url, spec, { ...extra, topicName: group.name, endpointName: endpoint.name }),
    );
  }

  publish(url: string, spec: PublishSpec, extra: PublishExtra = {}): PublishResult {
    const now = this.now;
    const dedupKey = this.dedupKey(url, spec, extra.topicName);
    if (dedupKey !== undefined) {
      const previous = this.dedup.get(dedupKey);
      if (previous && previous.expiresAt > now) {
        return { messageId: previous.messageId, url, deduplicated: true };
      }
    }
    const notBefore =
      spec.notBefore ?? (spec.delayMs !== undefined && spec.delayMs > 0 ? now + spec.delayMs : undefined);
    const message: StoredMessage = {
      messageId: randomId("msg_"),
      url,
      spec,
      createdAt: now,
      dueAt: notBefore ?? now,
      notBefore,
      retried: 0,
      scheduleId: extra.scheduleId,
      queueName: extra.queueName,
      topicName: extra.topicName,
      endpointName: extra.endpointName,
      started: false,
      cancelled: false,
      isCallback: extra.isCallback ?? false,
    };
    if (extra.queueName !== undefined && !this.queues.has(extra.queueName)) {
      this.upsertQueue(extra.queueName, {});
    }
    if (dedupKey !== undefined) {
      this.pruneDedup(now);
      this.dedup.set(dedupKey, { messageId: message.messageId, expiresAt: now + DEDUP_WINDOW_MS });
    }
    this.flowControls.configure(spec);
    this.messages.set(message.messageId, message);
    this.record("CREATED", message);
    this.schedulePump(message.dueAt - now);
    return { messageId: message.messageId, url };
  }

  private dedupKey(url: string, spec: PublishSpec, topicName?: string): string | undefined {
    // A URL group's endpoints share the publish's id: each is deduplicated on its own.
    if (spec.deduplicationId !== undefined)
      return topicName === undefined
        ? `id:${spec.deduplicationId}`
        : `topic:${topicName}\n${url}\n${spec.deduplicationId}`;
    if (!spec.contentBasedDeduplication) return undefined;
    const hash = createHash("sha256");
    hash.update(`${url}\n${spec.method}\n`);
    for (const name of Object.keys(spec.header).sort())
      hash.update(`${name}:${spec.header[name]!.join(",")}\n`);
    hash.update(spec.body);
    return `content:${hash.digest("hex")}`;
  }

  private pruneDedup(now: number): void {
    for (const [key, entry] of this.dedup) if (entry.expiresAt <= now) this.dedup.delete(key);
  }

  // --- delivery ---------------------------------------------------------------------------

  /** Starts an attempt for every message that is due and allowed by its queue / flow control. */
  pump(): void {
    if (this.closed) return;
    const now = this.now;
    const queueSlots = new Map<string, number>();
    const flowSlots = new Map<string, number>();
    const rateWaits = new Set<string>();
    for (const message of this.messages.values()) {
      if (message.queueName !== undefined && message.started) {
        queueSlots.set(message.queueName, (queueSlots.get(message.queueName) ?? 0) + 1);
      }
      const key = message.spec.flowControlKey;
      if (key !== undefined && message.inFlight) flowSlots.set(key, (flowSlots.get(key) ?? 0) + 1);
    }
    for (const message of this.messages.values()) {
      if (message.inFlight || message.cancelled || message.dueAt > now) continue;
      if (message.queueName !== undefined && !message.started) {
        const queue = this.queues.get(message.queueName);
        const used = queueSlots.get(message.queueName) ?? 0;
        if (queue?.paused || used >= (queue?.parallelism ?? 1)) continue;
        queueSlots.set(message.queueName, used + 1);
      }
      const key = message.spec.flowControlKey;
      const control = key === undefined ? undefined : this.flowControls.get(key);
      if (key !== undefined && control) {
        if (control.paused) continue;
        const used = flowSlots.get(key) ?? 0;
        const { parallelism } = this.flowControls.limits(control);
        if (parallelism !== undefined && used >= parallelism) continue;
        const wait = this.flowControls.rateWait(control, now);
        if (wait > 0) {
          // The key's rate is spent for this period: look again when it ends.
          if (!rateWaits.has(key)) this.schedulePump(wait);
          rateWaits.add(key);
          continue;
        }
        this.flowControls.take(control, now);
        flowSlots.set(key, used + 1);
      }
      void this.attempt(message);
    }
  }

  private async attempt(message: StoredMessage): Promise<void> {
    const controller = new AbortController();
    message.inFlight = controller;
    message.started = true;
    this.record("ACTIVE", message);
    const { spec } = message;
    const sendsBody = spec.method !== "GET" && spec.method !== "HEAD";
    const body = sendsBody ? spec.body : Buffer.alloc(0);
    let response: DeliveryResponse | undefined;
    let error: string | undefined;
    try {
      const headers: Record<string, string | string[]> = {
        ...spec.header,
        "Upstash-Message-Id": message.messageId,
        "Upstash-Retried": String(message.retried),
        "Upstash-Signature": await signDelivery(
          this.options.currentSigningKey,
          message.url,
          body,
          this.options.signatureNow(),
        ),
        "User-Agent": "Upstash-QStash",
      };
      if (message.scheduleId !== undefined) headers["Upstash-Schedule-Id"] = message.scheduleId;
      response = await deliver({
        url: message.url,
        method: spec.method,
        headers,
        body,
        timeoutMs: spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        signal: controller.signal,
      });
    } catch (cause) {
      error = (cause as Error).message;
    }
    message.inFlight = undefined;
    if (this.closed) return;
    const status = response?.status;
    this.options.log(
      `qstash: ${spec.method} ${message.url} ${message.messageId} retried=${message.retried} -> ${status ?? error}`,
    );
    if (message.cancelled) return this.finish(message);
    if (status !== undefined && status >= 200 && status < 300) {
      this.record("DELIVERED", message, { responseStatus: status });
      if (spec.callback && !message.isCallback)
        this.publishCallback(spec.callback, spec.callbackHeader, message, response!, {});
      this.onFinished?.(message, "SUCCESS");
      return this.finish(message);
    }
    // QStash's opt-out of retries: 489 with Upstash-NonRetryable-Error: true goes straight to the DLQ.
    const nonRetryable =
      status === 489 &&
      Object.entries(response!.header).some(
        ([name, values]) => name.toLowerCase() === "upstash-nonretryable-error" && values[0] === "true",
      );
    error ??= `status ${status}`;
    if (!nonRetryable && message.retried < spec.retries) {
      const delay = this.retryDelay(message);
      message.retried += 1;
      message.dueAt = this.now + delay;
      this.record("RETRY", message, { error, responseStatus: status, nextDeliveryTime: message.dueAt });
      this.schedulePump(delay);
      return;
    }
    this.record("FAILED", message, { error, responseStatus: status });
    const entry = this.addToDlq(message, response, error);
    if (spec.failureCallback && !message.isCallback) {
      this.publishCallback(
        spec.failureCallback,
        spec.failureCallbackHeader,
        message,
        response,
        { dlqId: entry.dlqId },
        error,
      );
    }
    this.onFinished?.(message, "FAIL");
    this.finish(message);
  }

  private retryDelay(message: StoredMessage): number {
    const custom = message.spec.retryDelay;
    const delay = custom
      ? custom(message.retried)
      : this.options.retryBaseDelayMs * 2 ** Math.min(message.retried, 40);
    return Math.min(Math.max(0, Math.round(delay)), MAX_RETRY_DELAY_MS);
  }

  /** QStash's callback / failure-callback message: a JSON report of the source delivery. */
  private publishCallback(
    url: string,
    header: Record<string, string[]>,
    source: StoredMessage,
    response: DeliveryResponse | undefined,
    extra: Record<string, unknown>,
    error?: string,
  ): void {
    const report = compact({
      status: response?.status ?? 0,
      header: response?.header,
      body: (response?.body ?? Buffer.from(error ?? "")).toString("base64"),
      retried: source.retried,
      maxRetries: source.spec.retries,
      ...extra,
      sourceMessageId: source.messageId,
      url: source.url,
      method: source.spec.method,
      sourceHeader: source.spec.header,
      sourceBody: source.spec.body.toString("base64"),
      notBefore: source.notBefore,
      createdAt: source.createdAt,
      scheduleId: source.scheduleId,
      topicName: source.topicName,
      endpointName: source.endpointName,
      callerIP: "127.0.0.1",
    });
    const spec: PublishSpec = {
      method: "POST",
      header: { ...header, "Content-Type": ["application/json"] },
      body: Buffer.from(JSON.stringify(report)),
      retries: DEFAULT_RETRIES,
      contentBasedDeduplication: false,
      callbackHeader: {},
      failureCallbackHeader: {},
      labels: [],
    };
    this.publish(url, spec, { isCallback: true });
  }

  private finish(message: StoredMessage): void {
    this.messages.delete(message.messageId);
    this.schedulePump(0);
    if (this.messages.size === 0) {
      for (const waiter of this.idleWaiters) waiter.resolve();
      this.idleWaiters.clear();
    }
  }

  private schedulePump(delayMs: number): void {
    if (this.closed) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        this.pump();
      },
      Math.max(0, delayMs),
    );
    timer.unref();
    this.timers.add(timer);
  }

  // --- messages ---------------------------------------------------------------------------

  getMessage(messageId: string): Record<string, unknown> | undefined {
    const message = this.messages.get(messageId);
    return message && !message.cancelled ? messagePayload(message) : undefined;
  }

  /** Cancels pending messages; an attempt in flight is aborted and not retried. */
  cancelMessages(match: (message: StoredMessage) => boolean): number {
    let cancelled = 0;
    for (const message of [...this.messages.values()]) {
      if (message.cancelled || !match(message)) continue;
      message.cancelled = true;
      cancelled += 1;
      this.record("CANCELED", message);
      if (message.inFlight) message.inFlight.abort();
      else this.finish(message);
    }
    return cancelled;
  }

  cancelById(messageId: string): number {
    return this.cancelMessages((message) => message.messageId === messageId);
  }

  cancelByFilter(filter: Filter): number {
    const ids = filter.getAll("messageIds");
    if (ids.length > 0) return this.cancelMessages((message) => ids.includes(message.messageId));
    return this.cancelMessages((message) => matchesFilter(message, filter));
  }

  // --- dead letter queue ------------------------------------------------------------------

  private addToDlq(message: StoredMessage, response: DeliveryResponse | undefined, error: string): DlqEntry {
    const seq = ++this.seq;
    const entry: DlqEntry = {
      seq,
      dlqId: `${this.now}-${seq}`,
      message,
      failedAt: this.now,
      response,
      error,
    };
    this.dlq.set(entry.dlqId, entry);
    return entry;
  }

  getDlq(dlqId: string): Record<string, unknown> | undefined {
    const entry = this.dlq.get(dlqId);
    return entry && dlqPayload(entry);
  }

  /** Newest first; the cursor is the sequence number of the last entry returned. */
  listDlq(filter: Filter): { messages: Record<string, unknown>[]; cursor?: string } {
    const page = this.dlqPage(filter);
    return { messages: page.entries.map(dlqPayload), cursor: page.cursor };
  }

  deleteDlq(filter: Filter): { deleted: number; cursor?: string } {
    const page = this.dlqPage(filter);
    for (const entry of page.entries) this.dlq.delete(entry.dlqId);
    return { deleted: page.entries.length, cursor: page.cursor };
  }

  deleteDlqById(dlqId: string): boolean {
    return this.dlq.delete(dlqId);
  }

  /** Publishes the dead messages again (new message ids, attempts from zero). */
  retryDlq(filter: Filter): { responses: PublishResult[]; cursor?: string } {
    const page = this.dlqPage(filter);
    const responses = page.entries.map((entry) => {
      this.dlq.delete(entry.dlqId);
      const { spec } = entry.message;
      return this.publish(
        entry.message.url,
        {
          ...spec,
          deduplicationId: undefined,
          contentBasedDeduplication: false,
          delayMs: undefined,
          notBefore: undefined,
        },
        {
          scheduleId: entry.message.scheduleId,
          queueName: entry.message.queueName,
          topicName: entry.message.topicName,
          endpointName: entry.message.endpointName,
        },
      );
    });
    return { responses, cursor: page.cursor };
  }

  private dlqPage(filter: Filter): { entries: DlqEntry[]; cursor?: string } {
    const ids = filter.getAll("dlqIds");
    if (ids.length > 0) {
      return { entries: ids.map((id) => this.dlq.get(id)).filter((entry) => entry !== undefined) };
    }
    const status = filter.get("responseStatus");
    return newestPage(
      [...this.dlq.values()],
      filter,
      (entry) =>
        matchesFilter(entry.message, filter, entry.failedAt) &&
        (status === null || String(entry.response?.status) === status),
    );
  }

  // --- events (logs) ----------------------------------------------------------------------

  private record(state: EventState, message: StoredMessage, extra: Partial<EventRecord> = {}): void {
    this.events.push({ seq: ++this.seq, time: this.now, state, message, ...extra });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  listEvents(filter: Filter): { events: Record<string, unknown>[]; cursor?: string } {
    const ids = filter.getAll("messageIds");
    const state = filter.get("state");
    const page = newestPage(
      this.events,
      filter,
      (event) =>
        (ids.length === 0 || ids.includes(event.message.messageId)) &&
        (state === null || event.state === state) &&
        matchesFilter(event.message, filter, event.time),
    );
    return {
      events: page.entries.map((event) =>
        compact({
          time: event.time,
          state: event.state,
          messageId: event.message.messageId,
          url: event.message.url,
          nextDeliveryTime: event.nextDeliveryTime,
          error: event.error,
          responseStatus: event.responseStatus,
          header: Object.fromEntries(
            Object.entries(shownHeader(event.message.spec.header, event.message.spec.redact)).map(
              ([name, values]) => [name, values.join(",")],
            ),
          ),
          ...shownBodyFields(event.message.spec.body, event.message.spec.redact),
          scheduleId: event.message.scheduleId,
          queueName: event.message.queueName,
          topicName: event.message.topicName,
          endpointName: event.message.endpointName,
          flowControlKey: event.message.spec.flowControlKey,
          ...labelFields(event.message.spec.labels),
        }),
      ),
      cursor: page.cursor,
    };
  }

  // --- queues -----------------------------------------------------------------------------

  upsertQueue(name: string, settings: { parallelism?: number; paused?: boolean }): void {
    const existing = this.queues.get(name);
    const now = this.now;
    this.queues.set(name, {
      name,
      parallelism: settings.parallelism ?? existing?.parallelism ?? 1,
      paused: settings.paused ?? existing?.paused ?? false,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    });
    this.schedulePump(0);
  }

  getQueue(name: string): Record<string, unknown> | undefined {
    const queue = this.queues.get(name);
    if (!queue) return undefined;
    let lag = 0;
    for (const message of this.messages.values())
      if (message.queueName === name && !message.started) lag += 1;
    return { ...queue, lag };
  }

  listQueues(): Record<string, unknown>[] {
    return [...this.queues.keys()].map((name) => this.getQueue(name)!);
  }

  deleteQueue(name: string): boolean {
    return this.queues.delete(name);
  }

  // --- flow control -----------------------------------------------------------------------

  private flowUsage(key: string): { active: number; waiting: number } {
    const now = this.now;
    let active = 0;
    let waiting = 0;
    for (const message of this.messages.values()) {
      if (message.spec.flowControlKey !== key || message.cancelled) continue;
      if (message.inFlight) active += 1;
      else if (message.dueAt <= now) waiting += 1;
    }
    return { active, waiting };
  }

  getFlowControl(key: string): Record<string, unknown> | undefined {
    const record = this.flowControls.get(key);
    return record && this.flowControls.info(record, this.flowUsage(key), this.now);
  }

  listFlowControls(search: string | null): Record<string, unknown>[] {
    return this.flowControls
      .all()
      .filter((record) => !search || record.key.includes(search))
      .map((record) => this.flowControls.info(record, this.flowUsage(record.key), this.now));
  }

  /** Pausing holds every delivery of the key (new ones too) until it is resumed. */
  setFlowControlPaused(key: string, paused: boolean): void {
    this.flowControls.ensure(key).paused = paused;
    this.schedulePump(0);
  }

  get activeCount(): number {
    let active = 0;
    for (const message of this.messages.values()) if (message.inFlight) active += 1;
    return active;
  }

  // --- lifecycle --------------------------------------------------------------------------

  get pendingCount(): number {
    return this.messages.size;
  }

  idle(timeoutMs: number): Promise<void> {
    if (this.messages.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.idleWaiters.delete(waiter);
        reject(
          new Error(
            `qstash emulator not idle after ${timeoutMs} ms: ${this.messages.size} message(s) pending`,
          ),
        );
      }, timeoutMs);
      this.idleWaiters.add(waiter);
    });
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const message of this.messages.values()) message.inFlight?.abort();
    for (const waiter of this.idleWaiters) waiter.reject(new Error("qstash emulator closed"));
    this.idleWaiters.clear();
  }
}

function pageSize(filter: Filter): number {
  const count = Number(filter.get("count") ?? DEFAULT_PAGE);
  return Number.isInteger(count) && count > 0 ? count : DEFAULT_PAGE;
}

/**
 * One page of `items` (oldest first, by rising seq) for the list endpoints: newest first, only those
 * older than the cursor (the seq of the last item of the previous page; absent or empty = from the
 * newest), at most `count`; `cursor` is set when more match.
 */
function newestPage<T extends { seq: number }>(
  items: readonly T[],
  filter: Filter,
  match: (item: T) => boolean,
): { entries: T[]; cursor?: string } {
  const count = pageSize(filter);
  const cursor = Number(filter.get("cursor") || Number.POSITIVE_INFINITY);
  const entries: T[] = [];
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.seq >= cursor || !match(item)) continue;
    if (entries.length === count) return { entries, cursor: String(entries.at(-1)!.seq) };
    entries.push(item);
  }
  return { entries };
}

/** The filter fields the bulk / list endpoints share (url, label, scheduleId, queueName, ...). */
function matchesFilter(message: StoredMessage, filter: Filter, time?: number): boolean {
  const anyOf = (name: string, value: string | undefined) => {
    const wanted = filter.getAll(name);
    return wanted.length === 0 || (value !== undefined && wanted.includes(value));
  };
  const from = filter.get("fromDate");
  const to = filter.get("toDate");
  const at = time ?? message.createdAt;
  return (
    anyOf("url", message.url) &&
    anyOf("messageId", message.messageId) &&
    anyOf("scheduleId", message.scheduleId) &&
    anyOf("queueName", message.queueName) &&
    anyOf("flowControlKey", message.spec.flowControlKey) &&
    anyOf("topicName", message.topicName) &&
    anyOf("urlGroup", message.topicName) &&
    anyOf("endpointName", message.endpointName) &&
    anyOf("callerIp", "127.0.0.1") &&
    (filter.getAll("label").length === 0 || message.spec.labels.some((label) => anyOf("label", label))) &&
    anyOf("host", new URL(message.url).host) &&
    anyOf("path", new URL(message.url).pathname) &&
    (from === null || at >= Number(from)) &&
    (to === null || at <= Number(to))
  );
}

export function messagePayload(message: StoredMessage): Record<string, unknown> {
  return compact({
    messageId: message.messageId,
    url: message.url,
    ...specFields(message.spec),
    maxRetries: message.spec.retries,
    notBefore: message.notBefore,
    createdAt: message.createdAt,
    queueName: message.queueName,
    scheduleId: message.scheduleId,
    topicName: message.topicName,
    endpointName: message.endpointName,
  });
}

function dlqPayload(entry: DlqEntry): Record<string, unknown> {
  return compact({
    ...messagePayload(entry.message),
    dlqId: entry.dlqId,
    responseStatus: entry.response?.status,
    responseHeader: entry.response?.header,
    ...(entry.response ? bodyFields(entry.response.body, "responseBody") : {}),
    error: entry.response ? undefined : entry.error,
  });
}
