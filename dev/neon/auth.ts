/**
 * Who may connect: the endpoint checks role, password and database itself (as Neon's proxy does),
 * so the backend never needs passwords and the superuser is never handed to a client.
 */
import type { PgErrorFields } from "./protocol";

export type AuthResult = { ok: true; role: string; database: string } | { ok: false; error: PgErrorFields };

/** A rejected login, shaped like the ErrorResponse Neon/Postgres sends. */
export function authError(code: "28P01" | "3D000" | "08P01", message: string): PgErrorFields {
  return { message, severity: "FATAL", code };
}

export class Authenticator {
  /**
   * `database` is the name clients ask for; `physical`, the database that holds it on the backend
   * (a branch's copy on the postgres backend, see dev/neon-api), defaults to the same name.
   */
  constructor(
    private readonly roles: Record<string, string>,
    private readonly database: string,
    private readonly physical = database,
  ) {}

  /** Checks credentials; the password is checked before the database, like Neon. */
  check(user: string, password: string, database: string): AuthResult {
    const expected = Object.hasOwn(this.roles, user) ? this.roles[user] : undefined;
    if (expected === undefined || expected !== password) {
      return { ok: false, error: authError("28P01", `password authentication failed for user "${user}"`) };
    }
    if (database !== this.database) {
      return { ok: false, error: authError("3D000", `database "${database}" does not exist`) };
    }
    return { ok: true, role: user, database: this.physical };
  }
}
