/** Neon's failures as the control-plane jobs treat them: retried by QStash, or not. */
import { PermanentJobError } from "../types";
import { NeonControlPlaneError } from "./api";

/**
 * Whether a retry of a failed Neon call may succeed: no answer (network, timeout, an operation that
 * failed or did not end in time: status 0), 408, a lock the SDK's own retries did not outlast
 * (423), a rate limit (429) or Neon's 5xx. Anything that is not a control-plane error is unknown
 * and counts as transient too, so QStash retries it.
 */
export function isTransientNeonError(err: unknown): boolean {
  if (!(err instanceof NeonControlPlaneError)) return true;
  const s = err.status;
  return s === 0 || s === 408 || s === 423 || s === 429 || s >= 500;
}

/** Whether Neon answered with `status` (404: already gone, 409: already there). */
export function neonStatusIs(err: unknown, status: number): boolean {
  return err instanceof NeonControlPlaneError && err.status === status;
}

/** A Neon failure as the job's outcome: transient ones as they are (QStash retries), the rest permanent. */
export function asJobError(err: unknown): Error {
  return isTransientNeonError(err) ? (err as Error) : new PermanentJobError((err as Error).message);
}
