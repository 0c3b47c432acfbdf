import { z } from "zod";

const url = z.url();
const optionalString = z.string().optional();

/**
 * Every binding and secret the worker reads, parsed once per request at the entry. A bad value
 * answers 500 `bad_environment` naming the key (never its value). `.dev.vars.example` mirrors this.
 */
export const EnvSchema = z.object({
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
  /** Expected `iss` and `aud` of tokens, checked when set (set both in production). */
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  /** Oldest `iat` accepted, in jose's duration syntax; tokens must carry `exp` anyway. */
  JWT_MAX_AGE: z.string().default("12h"),
  /** Requests per minute one user may make to /v1 (sliding window in Redis; off without Redis). */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(600),
  /** Comma-separated list of allowed browser origins. */
  CORS_ORIGINS: z.string().default(""),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
});

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
