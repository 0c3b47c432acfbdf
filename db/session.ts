/**
 * The caller's identity, carried to Postgres per request. Over Neon's HTTP driver every request
 * is its own transaction on a pooled connection, so the identity goes in as the FIRST statement of
 * the same transaction batch (sql.transaction([...]) / drizzle db.batch([...])): a token signed
 * with the identity key (db/identity.ts), put in the transaction-local setting app.identity and
 * checked at once by app.entrar(). It vanishes at COMMIT, so nothing leaks to the next request
 * that reuses the connection. The RLS policies read it via app.user_id() and app.role(), which
 * return NULL unless the token verifies (migration 0012): a statement that sets app.role itself
 * gets nothing for it. See db/README.md for the design and why not pg_session_jwt.
 */
import type { NeonQueryFunction, NeonQueryPromise } from "@neondatabase/serverless";
import { sql as dsql, type SQL } from "drizzle-orm";
import type { IdentitySigner } from "./identity";
import { type Auth, assertAuth } from "./roles";

export { type AppRole, type Auth, appRoles, assertAuth } from "./roles";

/** Who calls, and the signer that vouches for it to the database. */
export interface Caller {
  auth: Auth;
  signer: IdentitySigner;
}

/** The identity statement: its one parameter is the signed token. */
export const AUTH_SQL = "SELECT app.entrar(set_config('app.identity', $1, true))";

/** The statement (text + params) to run first in a transaction, for any client. */
export async function authStatement(caller: Caller): Promise<{ text: string; params: [string] }> {
  const a = assertAuth(caller.auth);
  return { text: AUTH_SQL, params: [await caller.signer.token(a.userId, a.role)] };
}

/** For drizzle neon-http: `db.batch([db.execute(await authSql(caller)), db.select()...])`. */
export async function authSql(caller: Caller): Promise<SQL> {
  const { params } = await authStatement(caller);
  return dsql`SELECT app.entrar(set_config('app.identity', ${params[0]}, true))`;
}

/**
 * Runs `queries` in one HTTP transaction after the identity statement; returns their results
 * (without the identity statement's).
 */
export async function withAuth<A extends boolean, F extends boolean>(
  sql: NeonQueryFunction<A, F>,
  caller: Caller,
  queries: NeonQueryPromise<A, F>[] | ((sql: NeonQueryFunction<A, F>) => NeonQueryPromise<A, F>[]),
  opts?: {
    isolationLevel?: "ReadCommitted" | "RepeatableRead" | "Serializable";
    readOnly?: boolean;
    /** Passed to the driver's fetch, e.g. `{ signal }` for a timeout. */
    fetchOptions?: Record<string, unknown>;
  },
): Promise<unknown[]> {
  const { text, params } = await authStatement(caller);
  const list = typeof queries === "function" ? queries(sql) : queries;
  const results = await sql.transaction([sql.query(text, params) as NeonQueryPromise<A, F>, ...list], opts);
  return (results as unknown[]).slice(1);
}

/**
 * Owner-only maintenance identity (seed, partition job, sync): a 'system' token the database
 * signs with its own key (private.token_sistema(), which the app role cannot call). The
 * `*_system` policies are granted TO the owner role only besides.
 */
export const SYSTEM_SQL = "SELECT set_config('app.identity', private.token_sistema(), true)";
