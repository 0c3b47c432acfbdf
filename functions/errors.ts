import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import type { AppEnv } from "./context";

/** Every error code the API can answer with. Extend, never rename: clients switch on these. */
export const ErrorCode = z.enum([
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "conflict",
  "slot_taken",
  "precondition_failed",
  "payload_too_large",
  "unsupported_media_type",
  "unprocessable_entity",
  "idempotency_key_reused",
  "invalid_transition",
  "rate_limited",
  "bad_environment",
  "service_unavailable",
  "internal_server_error",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const errorStatus: Record<
  ErrorCode,
  400 | 401 | 403 | 404 | 405 | 409 | 412 | 413 | 415 | 422 | 429 | 500 | 503
> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  slot_taken: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable_entity: 422,
  idempotency_key_reused: 422,
  invalid_transition: 422,
  rate_limited: 429,
  bad_environment: 500,
  service_unavailable: 503,
  internal_server_error: 500,
};

export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    request_id: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The one error type thrown at the HTTP edge. `message` is shown to the caller: keep secrets out. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.details = details;
  }
  get status() {
    return errorStatus[this.code];
  }
}

export function errorResponse<E extends AppEnv>(
  c: Context<E>,
  code: ErrorCode,
  message: string,
  details?: unknown,
) {
  const body: ErrorBody = {
    error: {
      code,
      message,
      request_id: c.get("requestId") ?? "unknown",
      ...(details === undefined ? {} : { details }),
    },
  };
  return c.json(body, errorStatus[code]);
}

const httpCodes: Partial<Record<number, ErrorCode>> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  412: "precondition_failed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "unprocessable_entity",
  429: "rate_limited",
  503: "service_unavailable",
};

/** app.onError: ApiError and HTTPException answer as they say; anything else is a 500 that echoes
 * nothing of the internals (the detail goes to the log line only). */
export function onError<E extends AppEnv>(err: Error, c: Context<E>) {
  if (err instanceof ApiError) return errorResponse(c, err.code, err.message, err.details);
  if (err instanceof HTTPException) {
    const code = httpCodes[err.status] ?? (err.status >= 500 ? "internal_server_error" : "bad_request");
    return errorResponse(c, code, err.message || code.replaceAll("_", " "));
  }
  const logger = c.get("services")?.logger;
  // Name, SQLSTATE and constraint only: a message can carry values (a driver's `Key (cpf)=(...)`).
  const { code, constraint } = err as { code?: unknown; constraint?: unknown };
  if (logger) logger.error("unhandled_error", { error: err.name, code, constraint });
  // Before `init` built the services there is no logger (and no parsed LOG_LEVEL): name only.
  else console.error(JSON.stringify({ level: "error", msg: "unhandled_error", error: err.name }));
  return errorResponse(
    c,
    "internal_server_error",
    "Something went wrong. Quote the request_id when reporting it.",
  );
}

export function notFound(c: Context<AppEnv>) {
  return errorResponse(c, "not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`);
}

/**
 * The defaultHook of every OpenAPIHono app: a zod validation failure (body, params, query,
 * headers) answers 400 `bad_request` in the error model, each issue as {path, message, code}
 * (the paths and messages name fields, never echo their values).
 */
export function validationHook<E extends AppEnv>(
  result: { success: true } | { success: false; error: { issues: readonly ZodIssueLike[] } },
  c: Context<E>,
) {
  if (!result.success) {
    return errorResponse(c, "bad_request", "Invalid request", result.error.issues.map(issueOf));
  }
}

interface ZodIssueLike {
  path: readonly PropertyKey[];
  message: string;
  code?: string;
}

function issueOf(i: ZodIssueLike) {
  return { path: i.path.map(String).join("."), message: i.message, code: i.code };
}
