/** What the HTTP and WebSocket front ends need from a database backend (PGlite or PostgreSQL). */
import type { IdentityGuard } from "./identity-check";
import type { PgErrorFields } from "./protocol";

/** A backend failure the HTTP client should see as a NeonDbError (HTTP 400), e.g. a timeout. */
export class BackendRequestError extends Error {
  constructor(readonly fields: PgErrorFields) {
    super(fields.message);
  }
}

/** Default limit for one HTTP request's backend work (options.requestTimeoutMs). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5 * 60_000;

export function requestTimeoutError(ms: number): BackendRequestError {
  return new BackendRequestError({
    message: `canceling statement due to the endpoint's request timeout (${ms} ms)`,
    severity: "ERROR",
    code: "57014",
  });
}

/**
 * The role that owns the database (and creates the schema in migrations): fisioflow_owner when
 * configured, else the first role given.
 */
export function ownerRole(roles: Record<string, string>): string | undefined {
  const names = Object.keys(roles);
  return names.includes("fisioflow_owner") ? "fisioflow_owner" : names[0];
}

export interface SessionIO {
  /** Bytes for the client (backend messages), sent as one binary WebSocket frame. */
  send(data: Buffer): void;
  /** Close the client connection (after the backend closed or failed). */
  close(): void;
}

/** An authenticated wire-protocol session: the client's bytes after its PasswordMessage go in here. */
export interface Session {
  write(data: Buffer): void;
  /** The client went away: give back whatever the session holds. */
  end(): void;
}

export interface Backend {
  readonly kind: "pglite" | "postgres";
  /** Checks every unit of work's identity; once it has stopped, every request is refused. */
  readonly guard: IdentityGuard;
  /**
   * Runs frontend `messages` as `role` and resolves with the backend's raw output for them, which
   * holds exactly `syncs` ReadyForQuery messages (one per Sync or simple Query sent). Nothing of
   * the session outlives the call. Rejects with a BackendRequestError if the endpoint has stopped
   * or the session failed its identity check afterwards (the output is then withheld).
   */
  run(role: string, messages: Buffer, syncs: number): Promise<Buffer>;
  /** Starts a wire-protocol session; the backend sends AuthenticationOk onwards through `io`. */
  openSession(role: string, database: string, startupParams: Record<string, string>, io: SessionIO): Session;
  /**
   * A client's CancelRequest with the key from its BackendKeyData: the backend cancels that
   * session's running query if the key is one of its own (optional: PGlite cannot interrupt).
   */
  cancel?(pid: number, secret: number): void;
  /**
   * The same database as a read-only endpoint (Neon's read replica) serves it: every transaction
   * is READ ONLY, so writes fail with 25006, and statements that would leave that mode are refused
   * (role-guard.ts, readOnlyChangeIn). Closing a view leaves the backend open.
   */
  readOnlyView(): Backend;
  close(): Promise<void>;
}
