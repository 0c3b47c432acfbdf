/**
 * The caller-scoped database handle: what API route code gets, and the only handle it gets. Every
 * batch it runs is ONE Neon HTTP transaction whose first statement is the caller's identity
 * (db/session.ts), so Row Level Security sees who is asking and nothing outlives the request.
 * There is no way to run a statement through it without the identity in front.
 *
 * Statements are plain parameterised SQL: `q(text, params)` (or the driver's tagged template).
 * Dates (`date` columns) should be selected as `::text`: the driver would turn them into a Date
 * at local midnight.
 */
import type { NeonQueryFunction, NeonQueryPromise } from "@neondatabase/serverless";
import type { DbExecutor } from "./resilience";
import { type Auth, withAuth } from "./session";

export type Sql = NeonQueryFunction<false, false>;
export type Statement = NeonQueryPromise<false, false>;
export type Row = Record<string, unknown>;

export interface BatchOptions {
  /** A READ ONLY transaction (reads may then go to a replica). */
  readOnly?: boolean;
  isolationLevel?: "ReadCommitted" | "RepeatableRead" | "Serializable";
}

export interface CallerDb {
  readonly auth: Auth;
  /**
   * Runs the statements `build` makes, in order, in one HTTP transaction after the caller's
   * identity: one round trip. Returns each statement's rows (typed by the caller: unchecked).
   */
  batch<R extends unknown[][] = Row[][]>(
    build: (q: QueryBuilder) => Statement[],
    opts?: BatchOptions,
  ): Promise<R>;
}

/** Builds one statement: parameterised text, never values spliced into it. */
export type QueryBuilder = (text: string, params?: unknown[]) => Statement;

export interface CallerDbOptions {
  /** Timeout, retries and circuit breaker around every batch (db/resilience.ts). */
  exec?: DbExecutor;
  /** The request may be repeated safely (it carries an Idempotency-Key): a write whose outcome is
   * unknown (network, timeout) may then be retried too. */
  idempotent?: boolean;
}

export function callerDb(sql: Sql, auth: Auth, options: CallerDbOptions = {}): CallerDb {
  const q: QueryBuilder = (text, params = []) => sql.query(text, params) as Statement;
  return {
    auth,
    async batch<R extends unknown[][]>(build: (q: QueryBuilder) => Statement[], opts: BatchOptions = {}) {
      // Built anew for every attempt: a retry sends the same statements, never a spent promise.
      const run = (signal?: AbortSignal) =>
        withAuth(sql, auth, build(q), { ...opts, ...(signal ? { fetchOptions: { signal } } : {}) });
      if (build(q).length === 0) return [] as unknown as R;
      const kind = { write: !opts.readOnly, idempotent: options.idempotent ?? false };
      return (await (options.exec ? options.exec(run, kind) : run())) as R;
    },
  };
}
