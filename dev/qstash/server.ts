import type { IncomingMessage, ServerResponse } from "node:http";
import { type QStashEngine, UnknownDestinationError } from "./engine";
import type { ScheduleStore } from "./schedules";
import { headerMap, isHttpUrl, type PublishSpec, parsePublishSpec, SpecError } from "./spec";

export interface RouterContext {
  engine: QStashEngine;
  schedules: ScheduleStore;
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The node:http request handler: QStash's v2 REST API, errors as `{ "error": "..." }`. */
export function createHandler(ctx: RouterContext) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    route(ctx, req, res).catch((error: unknown) => {
      // A URIError comes from decodeURIComponent on a malformed path: the client's mistake.
      const status =
        error instanceof HttpError
          ? error.status
          : error instanceof SpecError || error instanceof URIError
            ? 400
            : error instanceof UnknownDestinationError
              ? 404
              : 500;
      const message = status === 500 ? "internal error" : (error as Error).message;
      if (status === 500) console.error("qstash emulator:", error);
      if (!res.headersSent) send(res, status, { error: message });
      else res.end();
    });
  };
}

async function route(ctx: RouterContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = req.url ?? "/";
  const method = req.method ?? "GET";
  if (!raw.startsWith("/v2/")) throw new HttpError(404, "not found");
  if (req.headers.authorization !== `Bearer ${ctx.token}`) throw new HttpError(401, "unauthorized");

  // Publish-like routes carry the destination URL, query included, as the rest of the raw path.
  if (method === "POST" && raw.startsWith("/v2/publish/")) {
    const destination = parseDestination(raw.slice("/v2/publish/".length));
    return send(res, 201, ctx.engine.publishTo(destination, await readSpec(req)));
  }
  if (method === "POST" && raw.startsWith("/v2/enqueue/")) {
    const rest = raw.slice("/v2/enqueue/".length);
    const slash = rest.indexOf("/");
    if (slash <= 0) throw new HttpError(400, "queue name and destination are required");
    const queueName = decodeURIComponent(rest.slice(0, slash));
    const destination = parseDestination(rest.slice(slash + 1));
    return send(res, 201, ctx.engine.publishTo(destination, await readSpec(req), { queueName }));
  }
  if (method === "POST" && /^\/v2\/schedules\/(https?:|https?%3A)/i.test(raw)) {
    const destination = parseDestination(raw.slice("/v2/schedules/".length));
    return send(res, 201, { scheduleId: ctx.schedules.upsert(destination, await readSpec(req)) });
  }

  const url = new URL(raw, "http://localhost");
  const [, , resource, id, action] = url.pathname.split("/").map(decodeURIComponent);
  const query = url.searchParams;
  if (method === "POST" && resource === "dlq" && id === "retry") {
    // POST /v2/dlq/retry?dlqIds=...|filters (the client), or /v2/dlq/retry/<dlqId>.
    const filter = action === undefined ? query : new URLSearchParams({ dlqIds: action });
    return send(res, 200, ctx.engine.retryDlq(filter));
  }
  const key = `${method} ${resource}${id === undefined ? "" : "/:id"}${action === undefined ? "" : `/${action}`}`;
  switch (key) {
    case "POST schedules/:id":
      // A schedule whose destination is a URL group (a URL one is matched above).
      return send(res, 201, { scheduleId: ctx.schedules.upsert(id!, await readSpec(req)) });

    case "GET flowControl":
      return send(res, 200, ctx.engine.listFlowControls(query.get("search")));
    case "GET flowControl/:id":
      return send(res, 200, found(ctx.engine.getFlowControl(id!), "flow control key"));
    case "POST flowControl/:id/pause":
    case "POST flowControl/:id/resume":
      ctx.engine.setFlowControlPaused(id!, action === "pause");
      return send(res, 200);
    case "POST flowControl/:id/pin":
      ctx.engine.flowControls.pin(id!, {
        parallelism: positiveInt(query.get("parallelism"), "parallelism"),
        rate: positiveInt(query.get("rate"), "rate"),
        periodMs: mapDefined(positiveInt(query.get("period"), "period"), (seconds) => seconds * 1000),
      });
      ctx.engine.pump();
      return send(res, 200);
    case "POST flowControl/:id/unpin":
      if (
        !ctx.engine.flowControls.unpin(id!, {
          parallelism: query.get("parallelism") === "true",
          rate: query.get("rate") === "true",
        })
      )
        throw new HttpError(404, "flow control key not found");
      ctx.engine.pump();
      return send(res, 200);
    case "POST flowControl/:id/resetRate":
    case "POST flowControl/:id/reset":
      if (!ctx.engine.flowControls.resetRate(id!)) throw new HttpError(404, "flow control key not found");
      ctx.engine.pump();
      return send(res, 200);
    case "GET globalParallelism":
      // No global limit here: parallelismMax 0 (the client's default when absent).
      return send(res, 200, { parallelismMax: 0, parallelismCount: ctx.engine.activeCount });

    case "GET topics":
      return send(res, 200, ctx.engine.urlGroups.list());
    case "GET topics/:id":
      return send(res, 200, found(ctx.engine.urlGroups.get(id!), "url group"));
    case "DELETE topics/:id":
      if (!ctx.engine.urlGroups.delete(id!)) throw new HttpError(404, "url group not found");
      return send(res, 200);
    case "POST topics/:id/endpoints":
      ctx.engine.urlGroups.addEndpoints(id!, parseJson(await readBody(req)), ctx.engine.now);
      return send(res, 200);
    case "DELETE topics/:id/endpoints":
      if (!ctx.engine.urlGroups.removeEndpoints(id!, parseJson(await readBody(req)), ctx.engine.now))
        throw new HttpError(404, "url group not found");
      return send(res, 200);

    case "GET keys":
      return send(res, 200, { current: ctx.currentSigningKey, next: ctx.nextSigningKey });
    case "POST batch":
      return send(res, 201, await batch(ctx, req));

    case "GET messages/:id":
      return send(res, 200, found(ctx.engine.getMessage(id!), "message"));
    case "DELETE messages/:id": {
      const cancelled = ctx.engine.cancelById(id!);
      if (cancelled === 0) throw new HttpError(404, "message not found");
      return send(res, 200, { cancelled });
    }
    case "DELETE messages":
      return send(res, 200, { cancelled: ctx.engine.cancelByFilter(query) });

    case "GET dlq":
      return send(res, 200, ctx.engine.listDlq(query));
    case "GET dlq/:id":
      return send(res, 200, found(ctx.engine.getDlq(id!), "dlq message"));
    case "DELETE dlq/:id":
      if (!ctx.engine.deleteDlqById(id!)) throw new HttpError(404, "dlq message not found");
      return send(res, 200);
    case "DELETE dlq":
      return send(res, 200, ctx.engine.deleteDlq(query));

    case "GET schedules":
      return send(res, 200, ctx.schedules.list());
    case "GET schedules/:id":
      return send(res, 200, found(ctx.schedules.get(id!), "schedule"));
    case "DELETE schedules/:id":
      if (!ctx.schedules.delete(id!)) throw new HttpError(404, "schedule not found");
      return send(res, 200);
    case "PATCH schedules/:id/pause":
    case "POST schedules/:id/pause":
    case "PATCH schedules/:id/resume":
    case "POST schedules/:id/resume":
      if (!ctx.schedules.setPaused(id!, action === "pause")) throw new HttpError(404, "schedule not found");
      return send(res, 200);

    case "GET events":
      return send(res, 200, ctx.engine.listEvents(query));

    case "POST queues": {
      const body = parseJson(await readBody(req)) as {
        queueName?: string;
        parallelism?: number;
        paused?: boolean;
      };
      if (!body.queueName) throw new HttpError(400, "queueName is required");
      ctx.engine.upsertQueue(body.queueName, { parallelism: body.parallelism, paused: body.paused });
      return send(res, 200);
    }
    case "GET queues":
      return send(res, 200, ctx.engine.listQueues());
    case "GET queues/:id":
      return send(res, 200, found(ctx.engine.getQueue(id!), "queue"));
    case "DELETE queues/:id":
      if (!ctx.engine.deleteQueue(id!)) throw new HttpError(404, "queue not found");
      return send(res, 200);
    case "POST queues/:id/pause":
    case "POST queues/:id/resume":
      found(ctx.engine.getQueue(id!), "queue");
      ctx.engine.upsertQueue(id!, { paused: action === "pause" });
      return send(res, 200);
  }
  throw new HttpError(404, `${method} ${url.pathname} is not supported by the local QStash emulator`);
}

/** POST /v2/batch: `[{ destination, headers, body, queue? }]`, all validated before any is published.
 * One result per entry: `{ messageId, url }`, or an array of them for a URL group. */
async function batch(ctx: RouterContext, req: IncomingMessage): Promise<unknown[]> {
  const entries = parseJson(await readBody(req));
  if (!Array.isArray(entries)) throw new HttpError(400, "batch body must be a JSON array");
  const parsed = entries.map(
    (entry: { destination?: string; headers?: Record<string, string>; body?: string; queue?: string }) => {
      if (typeof entry?.destination !== "string")
        throw new HttpError(400, "every batch entry needs a destination");
      return {
        destination: parseDestination(entry.destination),
        spec: parsePublishSpec(headerMap(entry.headers ?? {}), Buffer.from(entry.body ?? "")),
        queueName: entry.queue,
      };
    },
  );
  for (const { destination } of parsed) {
    if (!isHttpUrl(destination) && !ctx.engine.urlGroups.get(destination))
      throw new HttpError(404, `url group ${destination} not found`);
  }
  return parsed.map(({ destination, spec, queueName }) =>
    ctx.engine.publishTo(destination, spec, { queueName }),
  );
}

/** A destination URL (as given, or percent-encoded), or else a URL group's name. */
function parseDestination(rest: string): string {
  const destination = /^https?%3A/i.test(rest) ? decodeURIComponent(rest) : rest;
  if (isHttpUrl(destination)) return destination;
  const name = decodeURIComponent(destination);
  // An API name (api/llm, email providers) is not hosted by the emulator.
  if (name === "" || name.includes("/"))
    throw new HttpError(404, `${name} not found (the local emulator publishes to URLs and URL groups)`);
  return name;
}

function positiveInt(value: string | null, name: string): number | undefined {
  if (value === null || value === "") return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new HttpError(400, `invalid ${name}: ${value}`);
  return number;
}

function mapDefined<T, U>(value: T | undefined, map: (value: T) => U): U | undefined {
  return value === undefined ? undefined : map(value);
}

/** A publish, enqueue or schedule request: its Upstash-* headers and raw body. */
async function readSpec(req: IncomingMessage): Promise<PublishSpec> {
  return parsePublishSpec(headerMap(req.headers), await readBody(req));
}

function found<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new HttpError(404, `${what} not found`);
  return value;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "body is not valid JSON");
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res
    .writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) })
    .end(text);
}
