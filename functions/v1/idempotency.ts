/**
 * `Idempotency-Key` on POST: mobile clients retry, and a retried booking or registration must not
 * happen twice. The first request with a key claims it in Redis (SET NX) and its answer is stored
 * for 24 h; a repeat with the same method, path and body (and content headers: an attachment's
 * file name) replays that answer (`Idempotent-Replayed: true`), one with another body answers 422
 * `idempotency_key_reused`, and one that arrives while the first still runs answers 409. Keys are
 * per user. A 5xx or 429 is not stored, so a retry runs again. Without Redis the request runs
 * unprotected, with a warning: Redis is an optimisation, never a dependency.
 */
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import { sha256Hex } from "../lib/hash";
import { NOME_ARQUIVO_HEADER } from "./anexos/limits";
import type { V1Env } from "./context";

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** A claim whose request died mid-way frees the key after this long. */
const RUNNING_TTL_SECONDS = 60;
/**
 * The control-plane POSTs (/v1/ops/...) wait for Neon's operations, up to the SDK's 5 minutes and
 * its retries: their claim outlasts that, so a client retrying a slow restore with the same key
 * gets "in progress", never a second restore.
 */
const OPS_RUNNING_TTL_SECONDS = 6 * 60;
const KEY = /^[A-Za-z0-9._:-]{1,200}$/;
// cache-control: an ops answer (no-store) replayed must not become cacheable.
const REPLAYED_HEADERS = ["content-type", "etag", "location", "cache-control"];

interface Stored {
  state: "running" | "done";
  fingerprint: string;
  status?: number;
  body?: string;
  headers?: Record<string, string>;
}

/**
 * Request headers that carry part of what a POST asks for, beside its body: an upload's file name
 * (functions/v1/anexos). A repeat must send them alike.
 */
const CONTENT_HEADERS = [NOME_ARQUIVO_HEADER] as const;

/**
 * What a repeat must match: method, path, the content headers and the body's bytes as they came,
 * read as bytes, not text, so a binary upload's body stays intact for the route (hono caches the
 * first read) and two uploads that differ only in bytes invalid as UTF-8 do not share a
 * fingerprint. Not the query string: no POST takes one.
 *
 * Without content headers (every JSON POST) the body is hashed after the head, as it always was.
 * With them, the fingerprint covers the head, the headers as sent and the body's digest, taken
 * where hono holds the body: an upload (up to ANEXO_MAX_BYTES) is never copied.
 */
async function fingerprintOf(c: Context<V1Env>): Promise<string> {
  const head = `${c.req.method} ${c.req.path}\n`;
  const body = new Uint8Array(await c.req.arrayBuffer());
  const sent = CONTENT_HEADERS.map((h) => c.req.header(h) ?? null);
  if (sent.some((v) => v !== null))
    return sha256Hex(`${head}${JSON.stringify(sent)}\n${await sha256Hex(body)}`);
  const headBytes = new TextEncoder().encode(head);
  const all = new Uint8Array(headBytes.length + body.length);
  all.set(headBytes);
  all.set(body, headBytes.length);
  return sha256Hex(all);
}

export const idempotency: MiddlewareHandler<V1Env> = async (c, next) => {
  if (c.req.method !== "POST") return next();
  const key = c.req.header("idempotency-key");
  if (key === undefined) return next();
  if (!KEY.test(key)) {
    throw new ApiError("bad_request", "Idempotency-Key must be 1 to 200 of A-Z a-z 0-9 . _ : -");
  }
  const { redis, logger } = c.get("services");
  const degraded = (op: string, err?: unknown) =>
    logger.warn("idempotency_degraded", { op, error: err ? ((err as Error).name ?? "Error") : "no redis" });
  if (!redis) {
    degraded("claim");
    return next();
  }
  const fingerprint = await fingerprintOf(c);
  const redisKey = `idem:${c.get("auth").userId}:${key}`;

  let claimed: unknown;
  try {
    claimed = await redis.set(redisKey, { state: "running", fingerprint } satisfies Stored, {
      nx: true,
      ex: c.req.path.startsWith("/v1/ops/") ? OPS_RUNNING_TTL_SECONDS : RUNNING_TTL_SECONDS,
    });
  } catch (err) {
    degraded("claim", err);
    return next();
  }
  if (claimed !== "OK") {
    let stored: Stored | null = null;
    try {
      stored = await redis.get<Stored>(redisKey);
    } catch (err) {
      degraded("read", err);
    }
    if (stored && stored.fingerprint !== fingerprint) {
      throw new ApiError("idempotency_key_reused", "This Idempotency-Key was used with another request");
    }
    if (stored?.state !== "done") {
      throw new ApiError("conflict", "A request with this Idempotency-Key is in progress; retry later");
    }
    return new Response(stored.body ?? null, {
      status: stored.status ?? 200,
      headers: { ...stored.headers, "Idempotent-Replayed": "true" },
    });
  }

  await next();
  const res = c.res;
  try {
    if (res.status >= 500 || res.status === 429) {
      await redis.del(redisKey);
      return;
    }
    const headers: Record<string, string> = {};
    for (const h of REPLAYED_HEADERS) {
      const v = res.headers.get(h);
      if (v !== null) headers[h] = v;
    }
    const stored: Stored = {
      state: "done",
      fingerprint,
      status: res.status,
      body: await res.clone().text(),
      headers,
    };
    await redis.set(redisKey, stored, { ex: IDEMPOTENCY_TTL_SECONDS });
  } catch (err) {
    degraded("store", err);
  }
};
