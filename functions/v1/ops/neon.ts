/**
 * What every control-plane route under /v1/ops uses: `withNeon` (503 when NEON_API_KEY /
 * NEON_PROJECT_ID are unset, Neon's failures mapped to the error model), the no-store header, and
 * finding a branch by id or name. Nothing here ever sees a password or a connection string:
 * jobs/neon/api.ts's views carry none, and Neon's own messages are scrubbed anyway.
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type BranchView, type NeonControlPlane, NeonControlPlaneError } from "../../../jobs/neon/api";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";

export const NO_STORE = z.object({ "Cache-Control": z.literal("no-store") });

/** What may not leave the worker even inside Neon's own words: connection strings (and the key). */
const CONNECTION_STRING = /postgres(?:ql)?:\/\/\S*/gi;

function scrub(message: string, apiKey: string | undefined): string {
  const out = message.replace(CONNECTION_STRING, "[connection string]");
  return apiKey ? out.split(apiKey).join("[api key]") : out;
}

/**
 * A control-plane failure as an answer: Neon's 404 and 409 as ours, what Neon refuses (400/422)
 * as 422 with Neon's reason, and anything that may pass (a lock held after retries, a rate limit,
 * Neon down or unreachable, a timeout, a rejected API key: the operator's to fix) as 503. Neon's
 * messages name ids and names, never secrets; they are scrubbed anyway.
 */
export function neonFailure(c: Context<V1Env>, err: unknown): unknown {
  if (!(err instanceof NeonControlPlaneError)) return err;
  const reason = scrub(err.message, c.get("env").NEON_API_KEY);
  const { status, kind } = err;
  c.get("services").logger.warn("neon_api_failed", { status, kind, reason, route: c.req.routePath });
  const busy = (message: string, retryAfter = 5) => {
    c.header("Retry-After", String(retryAfter));
    return new ApiError("service_unavailable", message);
  };
  if (status === 404) return new ApiError("not_found", `Neon: ${reason}`);
  if (status === 409) return new ApiError("conflict", `Neon: ${reason}`);
  if (status === 400 || status === 422) {
    return new ApiError("unprocessable_entity", `Neon refused the request: ${reason}`);
  }
  if (status === 401 || status === 403) {
    return busy("The Neon API refused the worker's credentials: check NEON_API_KEY and NEON_PROJECT_ID", 60);
  }
  if (status === 423) return busy(`A running Neon operation still holds the branch after retries: ${reason}`);
  if (status === 429) return busy(`The Neon API is rate limiting this project: ${reason}`, 10);
  if (kind === "timeout") {
    return busy(
      `Neon did not finish in time (${reason}); the operation may still complete: list again before retrying`,
      30,
    );
  }
  if (kind === "network") return busy(`The Neon API could not be reached: ${reason}`);
  if (kind === "operation") return busy(`A Neon operation failed: ${reason}`);
  return busy(`The Neon API failed (${status || kind}): ${reason}`);
}

/** Runs `fn` with the project's control plane: 503 when it is not configured, failures mapped. */
export async function withNeon<T>(c: Context<V1Env>, fn: (neon: NeonControlPlane) => Promise<T>): Promise<T> {
  const neon = c.get("services").neon;
  if (!neon) {
    throw new ApiError(
      "service_unavailable",
      "The Neon control plane is not configured: set NEON_API_KEY and NEON_PROJECT_ID",
    );
  }
  try {
    return await fn(neon);
  } catch (err) {
    throw neonFailure(c, err);
  }
}

/** A branch by id, else by name, among `all`. */
export function findBranch(all: readonly BranchView[], ref: string): BranchView | undefined {
  return all.find((b) => b.id === ref) ?? all.find((b) => b.name === ref);
}

export function branchRef(all: readonly BranchView[], id: string) {
  return { id, name: all.find((b) => b.id === id)?.name ?? null };
}
