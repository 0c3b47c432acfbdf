import { z } from "zod";

const url = z.url();
const optionalString = z.string().optional();

/**
 * The local cloud's well-known values (dev/config.ts, dev/qstash/credentials.ts, .dev.vars.example;
 * the QStash ones are also Upstash's own local dev server's, public in @upstash/qstash). Anyone may
 * know them, so staging and production refuse them. functions/ may not import dev/ (test/arch), so
 * they are written out here; env.test.ts checks every value of those files is refused.
 */
const QSTASH_DEV_SIGNING_KEYS = ["sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"];
const DEVELOPMENT_VALUES: Record<string, readonly string[]> = {
  QSTASH_TOKEN: ["eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="],
  QSTASH_CURRENT_SIGNING_KEY: QSTASH_DEV_SIGNING_KEYS,
  QSTASH_NEXT_SIGNING_KEY: QSTASH_DEV_SIGNING_KEYS,
  JWT_SECRET: ["local-development-jwt-secret-change-me-0123456789"],
  UPSTASH_REDIS_REST_TOKEN: ["local-upstash-redis-token"],
  DB_IDENTITY_KEY: ["local-identity-key-not-a-secret-0123456789"],
  NEON_API_KEY: ["local-neon-api-key"],
  EXPORT_KEY: ["bG9jYWwtZXhwb3J0LWtleS1ub3QtYS1zZWNyZXQtMDE="],
};
/** Passwords of the local Neon endpoint's roles (fisioflow_owner, fisioflow_app). */
const LOCAL_ROLE_PASSWORDS = ["owner-local-password", "app-local-password"];
const LOCAL_HOST = /^(localhost|.+\.localhost|127(\.\d{1,3}){3}|0\.0\.0\.0|\[::1?\])$/i;
/** Connection-string keys (READ_REPLICA_URLS: a comma-separated list of them). */
const CONNECTION_KEYS = [
  "DATABASE_URL",
  "DATABASE_OWNER_URL",
  "READ_REPLICA_URLS",
  "LEGACY_DATABASE_URL",
] as const;
/** Local cloud only: production reaches Neon through its own hosts. */
const UNSET_IN_PRODUCTION = ["NEON_FETCH_ENDPOINT", "NEON_WS_PROXY"] as const;
/** Without them a token minted for another app by the same issuer (or another issuer) would pass. */
const REQUIRED_IN_PRODUCTION = ["JWT_ISSUER", "JWT_AUDIENCE"] as const;

/** Why a connection string is a development one, if it is: a local host or a local role password. */
function localConnection(value: string): "local host" | "local role password" | null {
  let u: URL;
  try {
    u = new URL(value.trim());
  } catch {
    return null;
  }
  if (LOCAL_HOST.test(u.hostname)) return "local host";
  let password = u.password;
  try {
    password = decodeURIComponent(password);
  } catch {}
  return LOCAL_ROLE_PASSWORDS.includes(password) ? "local role password" : null;
}

/**
 * Staging and production (checked once every value parses): no well-known development value, no
 * local cloud override, and tokens bound to their issuer and audience. Development and test: none.
 */
function productionRules(env: { ENVIRONMENT: string } & Record<string, unknown>, ctx: z.RefinementCtx) {
  const where = env.ENVIRONMENT;
  if (where !== "staging" && where !== "production") return;
  const refuse = (key: string, why: string) => ctx.addIssue({ code: "custom", path: [key], message: why });
  for (const key of CONNECTION_KEYS) {
    const value = env[key];
    const local = typeof value === "string" ? value.split(",").map(localConnection).find(Boolean) : null;
    if (local) refuse(key, `a development value (${local}), refused in ${where}`);
  }
  for (const [key, values] of Object.entries(DEVELOPMENT_VALUES)) {
    const value = env[key];
    if (typeof value === "string" && values.includes(value.trim()))
      refuse(key, `a development value, refused in ${where}`);
  }
  for (const key of UNSET_IN_PRODUCTION) if (env[key] !== undefined) refuse(key, `must be unset in ${where}`);
  const api = env.NEON_API_URL;
  if (typeof api === "string" && LOCAL_HOST.test(new URL(api).hostname))
    refuse("NEON_API_URL", `a development value (local host), refused in ${where}`);
  for (const key of REQUIRED_IN_PRODUCTION) if (!env[key]) refuse(key, `required in ${where}`);
}

/**
 * Every binding and secret the worker reads, parsed once per request at the entry. A bad value
 * answers 500 `bad_environment` naming the key (never its value); staging and production also
 * refuse development values (`productionRules`). `.dev.vars.example` mirrors this.
 */
const EnvFields = z.object({
  ENVIRONMENT: z.enum(["development", "test", "staging", "production"]).default("development"),
  /** Connection string of the app role (not the owner: RLS must apply). Pooled host on Neon. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// connection string")
    .refine((v) => !/pgbouncer=true/.test(v), "pgbouncer=true is not a Neon parameter; use the -pooler host"),
  /** Owner role, for maintenance jobs only (partition upkeep). The API never uses it. */
  DATABASE_OWNER_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// connection string")
    .optional(),
  /** The legacy PostgreSQL being migrated (jobs/migration-sync reads it over TCP; Hyperdrive's
   * connection string in production). Absent: the migration jobs refuse to run. */
  LEGACY_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// connection string")
    .optional(),
  /** Local cloud only: where neon() sends queries (the local Neon endpoint's /sql). */
  NEON_FETCH_ENDPOINT: url.optional(),
  /** Local cloud only: host:port/path of the local Neon endpoint's WebSocket proxy. */
  NEON_WS_PROXY: optionalString,
  /** Read replicas (read-only endpoints of the same branch, app role): comma-separated
   * connection strings. Reads go to them in turn; writes and read-your-writes to DATABASE_URL. */
  READ_REPLICA_URLS: z
    .string()
    .refine(
      (v) => v.split(",").every((u) => /^postgres(ql)?:\/\/\S+$/.test(u.trim())),
      "must be comma-separated postgresql:// connection strings",
    )
    .optional(),
  /**
   * Neon's API (the control plane: /v1/ops/branches, backups, restore, replicas, the autoscaler and
   * branch upkeep jobs). A secret; absent: those routes answer 503 and those jobs skip.
   */
  NEON_API_KEY: optionalString,
  /** The Neon project the worker manages (e.g. `late-frost-12345678`). */
  NEON_PROJECT_ID: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a Neon project id: lower case letters, digits and -")
    .optional(),
  /** Neon's API base URL: unset in production (https://console.neon.tech/api/v2); the local cloud's /api/v2. */
  NEON_API_URL: url.optional(),
  /** Backup branches kept: the newest of each of the last N days and M ISO weeks (jobs/backups). */
  BACKUP_KEEP_DAILY: z.coerce.number().int().min(1).max(366).default(7),
  BACKUP_KEEP_WEEKLY: z.coerce.number().int().min(0).max(260).default(4),
  /**
   * The key of the encrypted exports (jobs/exports): base64 of 32 random bytes
   * (`openssl rand -base64 32`). A secret, kept outside Neon and Cloudflare too: without it no
   * export can be restored. Unset: the export job skips and /v1/ops/exports shows no manifests.
   */
  EXPORT_KEY: z
    .string()
    .refine((v) => {
      try {
        return atob(v.trim()).length === 32;
      } catch {
        return false;
      }
    }, "must be base64 of 32 bytes (openssl rand -base64 32)")
    .optional(),
  /** Which key EXPORT_KEY is: recorded in every export, so a restore asks for the right one. */
  EXPORT_KEY_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, "1-32 letters, digits, _ or -")
    .default("k1"),
  /** Feature branches (feature/*) are deleted this many days after creation. */
  FEATURE_BRANCH_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  /** After a user writes, their reads stay on the primary this long (a replica may lag). */
  READ_YOUR_WRITES_SECONDS: z.coerce.number().int().min(0).max(3600).default(5),
  UPSTASH_REDIS_REST_URL: url.optional(),
  UPSTASH_REDIS_REST_TOKEN: optionalString,
  QSTASH_URL: url.optional(),
  QSTASH_TOKEN: optionalString,
  QSTASH_CURRENT_SIGNING_KEY: z.string().min(1),
  QSTASH_NEXT_SIGNING_KEY: z.string().min(1),
  /** Public base URL of this worker, when QStash reaches it through a URL other than the request's. */
  PUBLIC_URL: url.optional(),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWKS_URL: url.optional(),
  /**
   * The key the worker signs each caller's identity with for the database (db/identity.ts); the
   * same value is installed in the database by db:migrate. A secret.
   */
  DB_IDENTITY_KEY: z.string().min(32, "must be at least 32 characters"),
  /** Which installed key DB_IDENTITY_KEY is (rotation installs a new id beside the old). */
  DB_IDENTITY_KEY_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, "1-32 letters, digits, _ or -")
    .default("k1"),
  /** Expected `iss` and `aud` of tokens, checked when set (set both in production). */
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  /** Oldest `iat` accepted, in jose's duration syntax; tokens must carry `exp` anyway. */
  JWT_MAX_AGE: z.string().default("12h"),
  /**
   * Bearer secret of Prometheus scrapers for GET /metrics (admins' JWTs work too). Unset: only
   * admins may scrape.
   */
  METRICS_TOKEN: z.string().min(32, "must be at least 32 characters").optional(),
  /** Requests per minute one user may make to /v1 (sliding window in Redis; off without Redis). */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(600),
  /** Comma-separated list of allowed browser origins. */
  CORS_ORIGINS: z.string().default(""),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
});
export const EnvSchema = EnvFields.superRefine(productionRules);

export type Env = z.infer<typeof EnvSchema>;
/** What the runtime hands us: strings (wrangler vars and secrets) or bindings. */
export type RawEnv = Record<string, unknown>;

export type EnvResult = { ok: true; env: Env } | { ok: false; keys: string[]; message: string };

export function parseEnv(raw: RawEnv): EnvResult {
  // An empty value means "not set" (dotenv files and dashboards write KEY= for that).
  const present = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== ""));
  const parsed = EnvSchema.safeParse(present);
  if (parsed.success) {
    if (!parsed.data.JWT_SECRET && !parsed.data.JWKS_URL) {
      return { ok: false, keys: ["JWT_SECRET"], message: "JWT_SECRET or JWKS_URL must be set" };
    }
    return { ok: true, env: parsed.data };
  }
  const keys = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? "?")))];
  const message = parsed.error.issues.map((i) => `${String(i.path[0] ?? "?")}: ${i.message}`).join("; ");
  return { ok: false, keys, message };
}
