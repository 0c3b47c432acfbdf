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
import { DatabaseUnavailableError, type DbExecutor, isTransientDbFailure } from "./resilience";
import { type Auth, type Caller, withAuth } from "./session";

export type Sql = NeonQueryFunction<false, false>;
export type Statement = NeonQueryPromise<false, false>;
export type Row = Record<string, unknown>;

export interface BatchOptions {
  /** A READ ONLY transaction (reads may then go to a replica). */
  readOnly?: boolean;
  /** Read from the primary even with replicas: a load that fills a cache others will read. */
  primary?: boolean;
  /** A read that writes only its audit rows (it cannot be READ ONLY): not a write for read-your-writes. */
  auditedRead?: boolean;
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

/**
 * Read routing: READ ONLY batches go to read replicas in turn (a replica is a read-only compute
 * on the same branch), falling back to the primary when the replica fails; writes and the reads
 * of a user who just wrote (read-your-writes: a replica may lag) go to the primary.
 */
export interface ReadRouting {
  /** Each replica with its own executor: a replica that is down must not open the primary's breaker. */
  replicas: { sql: Sql; exec?: DbExecutor }[];
  /** The replica for the next read (e.g. round robin across requests). */
  pick(): number;
  /** This caller wrote in the last few seconds: read from the primary. */
  recentlyWrote(): Promise<boolean>;
  /** Called after every write batch that succeeded. */
  wrote(): Promise<void>;
  /** A replica failed and the primary answered instead (for a log line). */
  onFallback?(replica: number, err: unknown): void;
}

export interface CallerDbOptions {
  /** Timeout, retries and circuit breaker around every batch (db/resilience.ts). */
  exec?: DbExecutor;
  routing?: ReadRouting;
}

export function callerDb(sql: Sql, caller: Caller, options: CallerDbOptions = {}): CallerDb {
  const { routing } = options;
  const kind = (opts: BatchOptions) => ({ write: !opts.readOnly });
  const on = async (
    target: Sql,
    exec: DbExecutor | undefined,
    build: (q: QueryBuilder) => Statement[],
    opts: BatchOptions,
  ) => {
    // Built anew for every attempt: a retry sends the same statements, never a spent promise.
    const q: QueryBuilder = (text, params = []) => target.query(text, params) as Statement;
    const run = (signal?: AbortSignal) =>
      withAuth(target, caller, build(q), {
        readOnly: opts.readOnly,
        isolationLevel: opts.isolationLevel,
        ...(signal ? { fetchOptions: { signal } } : {}),
      });
    return exec ? exec(run, kind(opts)) : run();
  };
  return {
    auth: caller.auth,
    async batch<R extends unknown[][]>(build: (q: QueryBuilder) => Statement[], opts: BatchOptions = {}) {
      const replicaRead = opts.readOnly && !opts.primary && routing && routing.replicas.length > 0;
      if (replicaRead && !(await routing.recentlyWrote())) {
        const i = routing.pick() % routing.replicas.length;
        try {
          const replica = routing.replicas[i]!;
          return (await on(replica.sql, replica.exec, build, opts)) as R;
        } catch (err) {
          // Only an outage moves the read: a SQL error would be the same on the primary.
          if (!isTransientDbFailure(err) && !(err instanceof DatabaseUnavailableError)) throw err;
          routing.onFallback?.(i, err);
        }
      }
      const result = (await on(sql, options.exec, build, opts)) as R;
      if (!opts.readOnly && !opts.auditedRead) await routing?.wrote();
      return result;
    },
  };
}
