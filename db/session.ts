/**
 * The caller's identity, carried to Postgres per request. Over Neon's HTTP driver every request
 * is its own transaction on a pooled connection, so the identity is set with
 * set_config(name, value, is_local = true) as the FIRST statement of the same transaction batch
 * (sql.transaction([...]) / drizzle db.batch([...])). It vanishes at COMMIT, so nothing leaks to
 * the next request that reuses the connection. The RLS policies read it via app.user_id() and
 * app.role() (db/migrations/0000, 0006). See db/README.md for why not pg_session_jwt.
 */
import type { NeonQueryFunction, NeonQueryPromise } from "@neondatabase/serverless";
import { sql as dsql, type SQL } from "drizzle-orm";

export const appRoles = ["admin", "fisioterapeuta", "paciente"] as const;
export type AppRole = (typeof appRoles)[number];

export interface Auth {
  userId: string;
  role: AppRole;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Refuses anything but a uuid and a known role: the values go into settings the policies trust. */
export function assertAuth(auth: Auth): Auth {
  if (!UUID.test(auth.userId)) throw new Error("auth.userId must be a uuid");
  if (!(appRoles as readonly string[]).includes(auth.role))
    throw new Error(`unknown role ${String(auth.role)}`);
  return auth;
}

export const AUTH_SQL = "select set_config('app.user_id', $1, true), set_config('app.role', $2, true)";

/** The statement (text + params) to run first in a transaction, for any client. */
export function authStatement(auth: Auth): { text: string; params: [string, string] } {
  const a = assertAuth(auth);
  return { text: AUTH_SQL, params: [a.userId, a.role] };
}

/** For raw neon(): `sql.transaction([authStatements(sql, auth), sql`...`])`. */
export function authStatements<A extends boolean, F extends boolean>(
  sql: NeonQueryFunction<A, F>,
  auth: Auth,
): NeonQueryPromise<A, F> {
  const { text, params } = authStatement(auth);
  return sql.query(text, params) as NeonQueryPromise<A, F>;
}

/** For drizzle neon-http: `db.batch([db.execute(authSql(auth)), db.select()...])`. */
export function authSql(auth: Auth): SQL {
  const a = assertAuth(auth);
  return dsql`select set_config('app.user_id', ${a.userId}, true), set_config('app.role', ${a.role}, true)`;
}

/**
 * Runs `queries` in one HTTP transaction after the identity statement; returns their results
 * (without the identity statement's).
 */
export async function withAuth<A extends boolean, F extends boolean>(
  sql: NeonQueryFunction<A, F>,
  auth: Auth,
  queries: NeonQueryPromise<A, F>[] | ((sql: NeonQueryFunction<A, F>) => NeonQueryPromise<A, F>[]),
  opts?: {
    isolationLevel?: "ReadCommitted" | "RepeatableRead" | "Serializable";
    readOnly?: boolean;
    /** Passed to the driver's fetch, e.g. `{ signal }` for a timeout. */
    fetchOptions?: Record<string, unknown>;
  },
): Promise<unknown[]> {
  const list = typeof queries === "function" ? queries(sql) : queries;
  const results = await sql.transaction([authStatements(sql, auth), ...list], opts);
  return (results as unknown[]).slice(1);
}

/**
 * Owner-only maintenance identity (seed, partition job, sync): the `*_system` policies are
 * granted TO the owner role only, so the app role setting this gets nothing.
 */
export const SYSTEM_SQL = "select set_config('app.role', 'system', true)";
