/**
 * What every /v1 route declares in the OpenAPI document: its error answers, from one list, and
 * the bearer-token security requirement.
 */
import { z } from "@hono/zod-openapi";
import { ErrorBody } from "../errors";

const ERROR_DESCRIPTIONS = {
  400: "Bad input: `details` lists each field at fault",
  401: "Missing, invalid or expired bearer token",
  403: "The caller's role may not do this",
  404: "No such resource, or one the caller may not see",
  409: "Conflict: a taken slot (`slot_taken`), a value that cannot be registered, or a request in flight",
  412: "If-Match names a version that is no longer current",
  413: "Request body too large",
  415: "Unsupported media type: a Content-Type (or content) the route does not take",
  422: "Well-formed but not acceptable (`idempotency_key_reused`, `invalid_transition`, ...)",
  429: "Rate limited: see Retry-After and RateLimit-* headers",
  500: "Unexpected error: quote the request_id",
  503: "The database is unavailable for now: see Retry-After",
} as const;

export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** Answers every /v1 route can give, whatever it does. */
const ALWAYS: ErrorStatus[] = [400, 401, 413, 429, 500, 503];

const ErrorSchema = ErrorBody.openapi("Error");

/** The error responses of a route: the ones every route can give, plus `extra`. */
export function errorResponses(...extra: ErrorStatus[]) {
  const statuses = [...new Set([...ALWAYS, ...extra])].sort((a, b) => a - b);
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: ERROR_DESCRIPTIONS[s], content: { "application/json": { schema: ErrorSchema } } },
    ]),
  ) as Record<
    ErrorStatus,
    { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }
  >;
}

export const bearerSecurity = [{ bearerAuth: [] }];

export const IdParam = z.object({
  id: z
    .uuid()
    .openapi({ param: { name: "id", in: "path" }, example: "7d1f4e0a-3c2b-4a59-9f1e-2b8c6d5e4f30" }),
});

export const IdempotencyKeyHeader = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,200}$/)
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      description: "Retry-safe POST: a repeat with the same key and body replays the first answer (24 h)",
    }),
});

export const IfMatchHeader = z.object({
  "if-match": z
    .string()
    .max(200)
    .optional()
    .openapi({
      param: { name: "if-match", in: "header" },
      description: "The ETag last read: a stale one answers 412",
    }),
});

export const IfNoneMatchHeader = z.object({
  "if-none-match": z
    .string()
    .max(500)
    .optional()
    .openapi({
      param: { name: "if-none-match", in: "header" },
      description: "An ETag: 304 while it is current",
    }),
});

export const NOT_MODIFIED = { description: "Not modified since the ETag in If-None-Match" };

/** A JSON answer with the `ETag` of the version it shows (send it back as If-Match). */
export function versioned<S extends z.ZodType>(schema: S, description: string) {
  return {
    description,
    headers: z.object({ ETag: z.string() }),
    content: { "application/json": { schema } },
  };
}

/** A cursor page of `item`: `{data, next_cursor}`, registered as component `name`. */
export function pageOf<S extends z.ZodType>(item: S, name: string) {
  return z
    .object({
      data: z.array(item),
      next_cursor: z
        .string()
        .nullable()
        .openapi({ description: "Pass as ?cursor= for the next page; null on the last" }),
    })
    .openapi(name);
}

/** A 201 with the new record, its `ETag` and its `Location`. */
export function created<S extends z.ZodType>(schema: S, description: string) {
  return {
    description,
    headers: z.object({ ETag: z.string(), Location: z.string() }),
    content: { "application/json": { schema } },
  };
}
