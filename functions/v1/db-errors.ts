/**
 * Database errors as API answers, for every /v1 route (the v1 app's onError). Messages are ours,
 * never the driver's: a PostgreSQL message or `detail` can carry values (`Key (cpf)=(...)`).
 */
import type { Context } from "hono";
import {
  isRlsViolation,
  isSlotTaken,
  pgError,
  uniqueViolationField,
  uniqueViolationMessage,
} from "../../db/errors";
import { DatabaseUnavailableError, isTransientDbFailure } from "../../db/resilience";
import { ApiError } from "../errors";
import { checkRateLimit, type RateLimitRule } from "../lib/ratelimit";
import type { V1Env } from "./context";

/**
 * Email and CPF are unique across clinics, so each 409 tells its caller the value exists
 * somewhere: answered generically, and only so often per user (db/README.md).
 */
export const UNIQUE_CONFLICT_LIMIT: RateLimitRule = { limit: 10, window: "1 h", prefix: "rl:unique409" };

export async function dbErrorToApiError(err: unknown, c: Context<V1Env>): Promise<ApiError | undefined> {
  if (err instanceof DatabaseUnavailableError) {
    c.header("Retry-After", String(err.retryAfterSeconds));
    return new ApiError("service_unavailable", "The database is unavailable for now; retry later");
  }
  if (isTransientDbFailure(err)) {
    // Retries (db/resilience.ts) did not help, or this write could not be retried safely.
    c.header("Retry-After", "1");
    return new ApiError("service_unavailable", "The database did not answer; retry shortly");
  }
  const e = pgError(err);
  if (!e?.code) return undefined;
  if (isSlotTaken(err)) {
    return new ApiError("slot_taken", "The fisioterapeuta already has a consulta at that time");
  }
  const field = uniqueViolationField(err);
  if (field) {
    const { redis, logger } = c.get("services");
    const d = await checkRateLimit(redis, UNIQUE_CONFLICT_LIMIT, c.get("auth").userId, (reason) =>
      logger.warn("ratelimit_degraded", { reason, prefix: UNIQUE_CONFLICT_LIMIT.prefix }),
    );
    if (d.limited) {
      c.header("Retry-After", String(Math.max(1, Math.ceil((d.reset - Date.now()) / 1000))));
      return new ApiError("rate_limited", "Too many conflicting registrations; try again later");
    }
    return new ApiError("conflict", uniqueViolationMessage(field), { field });
  }
  if (isRlsViolation(err)) return new ApiError("forbidden", "Not allowed to write this record");
  switch (e.code) {
    case "42501":
      return new ApiError("forbidden", "Not allowed");
    case "23503":
      return new ApiError("unprocessable_entity", "A record this one refers to does not exist");
    case "23505":
      return new ApiError("conflict", "This record conflicts with an existing one");
    case "23514":
      // Each value passed its own check; together they break a rule of the record.
      return new ApiError(
        "unprocessable_entity",
        "These values break a rule of the record (e.g. an end before its start)",
      );
    case "22001":
    case "22003":
    case "22007":
    case "22008":
    case "22P02":
    case "22021": // character not in repertoire (a NUL in text)
      return new ApiError("bad_request", "A value is out of range or malformed");
    default:
      return undefined;
  }
}
