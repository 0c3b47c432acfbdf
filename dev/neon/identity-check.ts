/**
 * The endpoint fails closed instead of trusting its statement filter. After every unit of client
 * work — each HTTP request; on a WebSocket the startup and every Sync, Query or FunctionCall that
 * leaves the session idle — the backend reads, on the same session:
 *
 * - current_user and session_user, which must be the role the client authenticated as, and
 * - the role's attributes (superuser, createrole, createdb, bypassrls, replication) and every role
 *   it is a member of, directly or not, which must be what they were when the endpoint started.
 *
 * A session that is no longer its role is rolled back and closed (HTTP: the request gets a 42501
 * error instead of its result). A role whose attributes or memberships changed means something
 * ran with more rights than the endpoint handed out (on PGlite, an escalation that got past every
 * other check; on PostgreSQL, a change made from outside), so the endpoint stops serving — every
 * request and connection is refused with 57P03 — until it is restarted. On PGlite, whose one
 * session has the superuser as its authenticated user, any failed check stops it: SQL that ran as
 * someone else may have changed anything.
 *
 * The SQL names everything through pg_catalog and uses no operator, so nothing a client creates
 * or puts on its search_path changes what it reads. PostgreSQL runs it as a query appended to the
 * unit's own write (checkQuery); PGlite, where planning it would cost more than the request
 * itself, calls a function holding it by OID (IDENTITY_FUNCTION, see backend-pglite.ts).
 */
import { type DecodedSegment, type PgErrorFields, queryMessage, quoteLiteral } from "./protocol";

/** `role`'s attributes and memberships as one text (superusers are members of every role). */
function fingerprint(role: string): string {
  return `(SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', r.rolname, r.rolsuper, r.rolcreaterole,
    r.rolcreatedb, r.rolbypassrls, r.rolreplication), ',' ORDER BY r.rolname)
    FROM pg_catalog.pg_roles r WHERE pg_catalog.pg_has_role(${role}, r.oid, 'MEMBER'))`;
}

/** SQL for `role`'s fingerprint (the baseline, read at start). */
export function fingerprintSql(role: string): string {
  return fingerprint(`${quoteLiteral(role)}::pg_catalog.name`);
}

/** One text: the JSON array [current_user, session_user, fingerprint of the role named by `role`]. */
function identitySql(role: string): string {
  return `SELECT pg_catalog.json_build_array(current_user, session_user, ${fingerprint(role)})::pg_catalog.text`;
}

/** The check as a simple-protocol Query (one ReadyForQuery); its reply goes to replyOfQuery. */
export function checkQuery(role: string): Buffer {
  return queryMessage(identitySql(`${quoteLiteral(role)}::pg_catalog.name`));
}

/**
 * The check as a function, for PGlite: parsed once (BEGIN ATOMIC), planned once per session,
 * called by OID (a FunctionCall), so no name a client defines can stand in for it. It runs as
 * the caller (SECURITY INVOKER), reading the caller's own current_user and session_user.
 */
export const IDENTITY_FUNCTION = `CREATE OR REPLACE FUNCTION pg_catalog.neon_local_identity(checked_role pg_catalog.name)
  RETURNS pg_catalog.text LANGUAGE sql STABLE
  BEGIN ATOMIC ${identitySql("checked_role")}; END`;
export const IDENTITY_FUNCTION_SIGNATURE = "pg_catalog.neon_local_identity(pg_catalog.name)";

/** The check's answer: its text, or the error it failed with. */
export interface CheckReply {
  value: string | null;
  error: PgErrorFields | null;
}

/** The reply to checkQuery, decoded. */
export function replyOfQuery(seg: DecodedSegment | undefined): CheckReply {
  return { value: seg?.results[0]?.rows[0]?.[0] ?? null, error: seg?.error ?? null };
}

export class IdentityGuard {
  /** Why the endpoint stopped serving, or null while it serves. */
  stopped: string | null = null;
  private readonly checks = new Map<string, Buffer>();
  private readonly listeners: (() => void)[] = [];

  /**
   * `baseline`: role → fingerprint at start. `makeCheck`: the check's messages for a role.
   * `stopOnMismatch`: a session found as another role stops the endpoint (PGlite), rather than
   * only closing that session (PostgreSQL, where the server decides what a role may become).
   */
  constructor(
    private readonly baseline: ReadonlyMap<string, string>,
    private readonly makeCheck: (role: string) => Buffer,
    private readonly stopOnMismatch: boolean,
    private readonly log: (line: string) => void,
  ) {}

  /** The messages that read the session's identity (answered with one ReadyForQuery). */
  check(role: string): Buffer {
    let m = this.checks.get(role);
    if (!m) {
      m = this.makeCheck(role);
      this.checks.set(role, m);
    }
    return m;
  }

  /**
   * Judges the check's reply: null when the session is still `role` with the attributes it had
   * at start, else what is wrong (and the endpoint stops if that calls for it).
   */
  verify(role: string, reply: CheckReply): string | null {
    if (reply.value === null) {
      const problem = `the endpoint could not verify the session of ${role} (${reply.error?.message ?? "no reply"})`;
      if (this.stopOnMismatch) this.stop(problem);
      return problem;
    }
    const [user, sessionUser, fingerprint] = JSON.parse(reply.value) as [string, string, string | null];
    const expected = this.baseline.get(role);
    if (fingerprint !== expected) {
      const problem = `role ${role}'s attributes or memberships changed since the endpoint started (then: ${expected ?? "none"}; now: ${fingerprint ?? "none"})`;
      this.stop(problem);
      return problem;
    }
    if (user !== role || sessionUser !== role) {
      const problem = `the session of ${role} ended as session_user ${sessionUser}, current_user ${user}`;
      if (this.stopOnMismatch) this.stop(problem);
      return problem;
    }
    return null;
  }

  /** The error a client gets for the unit of work that failed the check. */
  failure(problem: string): PgErrorFields {
    const what = this.stopped
      ? "the endpoint stopped serving: restart it"
      : "the endpoint rolled the session back and closed it";
    return { severity: "ERROR", code: "42501", message: `${problem}; ${what}` };
  }

  /** What every request gets once the endpoint stopped. */
  refusal(): PgErrorFields {
    return {
      severity: "FATAL",
      code: "57P03",
      message: `the local Neon endpoint stopped serving: ${this.stopped}. SQL may have run with more rights than its role had, so the database may have been changed by a superuser: restart the endpoint (on PGlite with a data directory, restore that directory from a known state first)`,
    };
  }

  /** Called once when the endpoint stops (backends close their open sessions). */
  onStop(listener: () => void): void {
    this.listeners.push(listener);
  }

  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = reason;
    this.log(`neon endpoint: STOPPED SERVING: ${reason}`);
    for (const l of this.listeners) l();
  }
}
