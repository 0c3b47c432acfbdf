/**
 * How a request's database calls survive a flaky network and a Neon compute that is starting,
 * scaling or restarting (cockatiel): a timeout on every call; retries with exponential backoff
 * and full jitter, bounded, for failures a retry can fix; and a circuit breaker that, after a run
 * of such failures, fails calls at once (the API answers 503 with Retry-After) instead of piling
 * more requests onto a database that is down.
 *
 * What is retried: a read, after any transient failure (retryable SQLSTATE, connection exception,
 * network error, timeout). A write, only after a SQLSTATE that proves nothing was committed
 * (db/errors.ts isRetryableSqlState). A write whose outcome is unknown (network, timeout,
 * class 08) is never retried here, not even with an Idempotency-Key: that key deduplicates the
 * client's repeats in Redis, not a second attempt inside this request, which could insert twice
 * (or collide with its own booking). Constraint violations and other SQL errors are never retried.
 */
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  fullJitterGenerator,
  handleWhen,
  noJitterGenerator,
  retry,
} from "cockatiel";
import { isConnectionException, isRetryableSqlState, pgError } from "./errors";

export interface ResilienceOptions {
  /** Longest one database call may take (default 10 s). */
  timeoutMs: number;
  /** Attempts in all, the first included (default 3). */
  maxAttempts: number;
  /** Backoff: first delay and cap, in ms (full jitter: a random delay up to the exponential one). */
  initialDelayMs: number;
  maxDelayMs: number;
  /**
   * Consecutive transient failures that open the circuit (default 5). It stays open
   * `breakerFirstOpenMs` (default 1 s) the first time, then lets one call through; each failed
   * probe doubles the wait, up to `breakerOpenMs` (default 4 s); a success closes it and the next
   * opening starts from the first wait again. A short restart is thus noticed within a second of
   * the database's return, and a long outage costs it one probe per 4 s (so the API answers within about 4 s of the database's return, however long it was away).
   */
  breakerThreshold: number;
  breakerFirstOpenMs: number;
  breakerOpenMs: number;
}

export const DEFAULT_RESILIENCE: ResilienceOptions = {
  timeoutMs: 10_000,
  maxAttempts: 3,
  initialDelayMs: 50,
  maxDelayMs: 1_000,
  breakerThreshold: 5,
  breakerFirstOpenMs: 1_000,
  breakerOpenMs: 4_000,
};

export interface CallKind {
  /** The call writes (a read-write transaction). */
  write: boolean;
}

/** The circuit is open: the database failed repeatedly; try again after `retryAfterSeconds`. */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
  constructor(readonly retryAfterSeconds: number) {
    super("the database is unavailable for now");
  }
}

/**
 * The driver got no answer from PostgreSQL: its fetch failed or timed out, or Neon's proxy
 * answered a non-400 status (a compute starting, an overloaded proxy), all a NeonDbError without
 * a SQLSTATE; or the connection broke (class 08). Whether a write committed is unknown. Any other
 * error (a bug in our code, a SQL error) is not a database outage.
 */
function isUnknownOutcome(err: unknown): boolean {
  const code = pgError(err)?.code;
  if (code !== undefined) return isConnectionException(code);
  return (err as Error | undefined)?.name === "NeonDbError";
}

/** A failure that says the database (not the query) is in trouble: the breaker counts these. */
export function isTransientDbFailure(err: unknown): boolean {
  return isRetryableSqlState(pgError(err)?.code) || isUnknownOutcome(err);
}

export type DbExecutor = <T>(call: (signal: AbortSignal) => Promise<T>, kind: CallKind) => Promise<T>;

/**
 * One executor per isolate (per database): the breaker's state must outlive a request to be of
 * any use. It holds no I/O object, so sharing it across requests is allowed on Workers.
 */
export function createDbExecutor(options: Partial<ResilienceOptions> = {}): DbExecutor {
  const o = { ...DEFAULT_RESILIENCE, ...options };
  const breaker = circuitBreaker(handleWhen(isTransientDbFailure), {
    halfOpenAfter: new ExponentialBackoff({
      generator: noJitterGenerator,
      initialDelay: Math.min(o.breakerFirstOpenMs, o.breakerOpenMs),
      maxDelay: o.breakerOpenMs,
    }),
    breaker: new ConsecutiveBreaker(o.breakerThreshold),
  });
  const backoff = new ExponentialBackoff({
    generator: fullJitterGenerator,
    initialDelay: o.initialDelayMs,
    maxDelay: o.maxDelayMs,
  });
  const retrying = (kind: CallKind) =>
    retry(
      handleWhen((err) => {
        const code = pgError(err)?.code;
        if (isRetryableSqlState(code)) return true;
        return !kind.write && isUnknownOutcome(err);
      }),
      { maxAttempts: o.maxAttempts - 1, backoff },
    );
  return async (call, kind) => {
    try {
      return await retrying(kind).execute(() =>
        breaker.execute(() => call(AbortSignal.timeout(o.timeoutMs))),
      );
    } catch (err) {
      if (err instanceof BrokenCircuitError)
        // The wait before the next probe is the breaker's; a client comes back after the first.
        throw new DatabaseUnavailableError(Math.ceil(Math.min(o.breakerFirstOpenMs, o.breakerOpenMs) / 1000));
      throw err;
    }
  };
}
