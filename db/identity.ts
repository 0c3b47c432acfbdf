/**
 * The caller's identity as the database verifies it (migration 0012, db/README.md "An identity
 * SQL cannot forge"). A setting alone would be forgeable: any statement the app role runs can
 * call set_config('app.role', 'admin', true). So the API sends a token signed with a key the app
 * role cannot read, and app.user_id() / app.role() return NULL unless the token verifies:
 *
 *   v1.<kid>.<user uuid | empty>.<role>.<expires, unix seconds>.<HMAC-SHA256 hex>
 *
 * signed over everything before the last dot. The database holds the same key (by `kid`) in
 * private.chaves_identidade, readable only by the owner's SECURITY DEFINER code; the worker holds
 * it as the DB_IDENTITY_KEY secret. `installIdentityKey` (run by db:migrate as the owner) puts a
 * key there; rotating is installing a new kid, switching the secret, then removing the old kid.
 */
import { type AppRole, appRoles, UUID } from "./roles";

export interface IdentityKey {
  /** Key id: letters, digits, _ or -, at most 32. */
  kid: string;
  /** The shared secret (at least 32 characters; its UTF-8 bytes are the HMAC key). */
  secret: string;
}

/** Seconds a token lives: a request, its retries and clock skew between worker and database. */
export const IDENTITY_TTL_SECONDS = 120;
/** The longest lifetime the database accepts (private.verificar_identidade, migration 0012). */
export const MAX_IDENTITY_TTL_SECONDS = 600;
const KID = /^[A-Za-z0-9_-]{1,32}$/;

export function assertIdentityKey(key: IdentityKey): IdentityKey {
  if (!KID.test(key.kid)) throw new Error("identity key id must be 1-32 letters, digits, _ or -");
  if (key.secret.length < 32) throw new Error("identity key must be at least 32 characters");
  return key;
}

export interface IdentitySigner {
  readonly kid: string;
  /**
   * A token for `userId` (null for the 'system' identity) as `role`, valid `ttlSeconds` (default
   * IDENTITY_TTL_SECONDS; the database refuses more than MAX_IDENTITY_TTL_SECONDS) from `now`.
   */
  token(
    userId: string | null,
    role: AppRole | "system",
    opts?: { now?: number; ttlSeconds?: number },
  ): Promise<string>;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * A signer for one key. The WebCrypto key is imported once per signer: keep one per isolate (it
 * holds no I/O object, so Workers allows sharing it across requests).
 */
export function identitySigner(key: IdentityKey): IdentitySigner {
  const { kid, secret } = assertIdentityKey(key);
  const cryptoKey = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return {
    kid,
    async token(userId, role, { now = Date.now(), ttlSeconds = IDENTITY_TTL_SECONDS } = {}) {
      if (!(ttlSeconds > 0 && ttlSeconds <= MAX_IDENTITY_TTL_SECONDS))
        throw new Error(`identity ttl must be 1..${MAX_IDENTITY_TTL_SECONDS} seconds`);
      if (userId !== null && !UUID.test(userId)) throw new Error("identity user id must be a uuid");
      if (!(appRoles as readonly string[]).includes(role) && role !== "system")
        throw new Error(`unknown role ${String(role)}`);
      const expires = Math.floor(now / 1000) + Math.floor(ttlSeconds);
      const payload = `v1.${kid}.${userId ?? ""}.${role}.${expires}`;
      const mac = new Uint8Array(
        await crypto.subtle.sign("HMAC", await cryptoKey, new TextEncoder().encode(payload)),
      );
      let hex = "";
      for (const b of mac) hex += HEX[b];
      return `${payload}.${hex}`;
    },
  };
}

/** Signers by key, one per isolate: importing a key is the costly part. */
const signers = new Map<string, IdentitySigner>();

export function cachedIdentitySigner(key: IdentityKey): IdentitySigner {
  const id = `${key.kid}\u0000${key.secret}`;
  let s = signers.get(id);
  if (!s) {
    s = identitySigner(key);
    signers.set(id, s);
  }
  return s;
}

/** The statement that installs (or replaces) a key, for the owner: parameters kid and secret. */
export const INSTALL_IDENTITY_KEY_SQL =
  "SELECT private.instalar_chave_identidade($1::text, convert_to($2::text, 'UTF8'))";

/** Installs `key` in the database at `client` (an owner connection). */
export async function installIdentityKey(
  client: { query(text: string, params?: unknown[]): Promise<unknown> },
  key: IdentityKey,
): Promise<void> {
  const { kid, secret } = assertIdentityKey(key);
  await client.query(INSTALL_IDENTITY_KEY_SQL, [kid, secret]);
}
