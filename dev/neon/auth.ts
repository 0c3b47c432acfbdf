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
  private cache = new Map<string, AuthResult>();

  constructor(
    private readonly roles: Record<string, string>,
    private readonly database: string,
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
    return { ok: true, role: user, database };
  }

  /** Parses a Neon-Connection-String header (cached: the driver sends the same string every time). */
  fromConnectionString(connectionString: string): AuthResult {
    const hit = this.cache.get(connectionString);
    if (hit) return hit;
    let result: AuthResult;
    try {
      const url = new URL(connectionString);
      if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw new Error("scheme");
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
      if (!user || !database) throw new Error("missing user or database");
      result = this.check(user, password, database);
    } catch {
      result = { ok: false, error: authError("08P01", "invalid Neon-Connection-String header") };
    }
    // Bounded: a client rotating strings must not grow memory without limit.
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(connectionString, result);
    return result;
  }
}
