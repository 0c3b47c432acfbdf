import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, type JWTHeaderParameters, type JWTPayload, jwtVerify } from "jose";
import { z } from "zod";
import { appRoles } from "../../db/session";
import type { AppEnv, Auth } from "../context";
import type { Env } from "../env";
import { ApiError } from "../errors";

const Claims = z.object({
  sub: z.uuid(),
  role: z.enum(appRoles),
});

// A JWKS is fetched over the network: cache the key set per URL for the isolate's life. It holds
// no request-bound I/O object (jose fetches with the global fetch when asked), so sharing is safe.
const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

// The HS256 key, imported once per secret for the isolate's life: importing it on every request
// was a measurable share of a request's CPU (bench/). A CryptoKey is no I/O object.
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
const hmacKeys = new Map<string, Promise<HmacKey>>();
function hmacKey(secret: string): Promise<HmacKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    hmacKeys.set(secret, key);
  }
  return key;
}

/**
 * `typ` header values of an access token, compared lowercased and without an `application/`
 * prefix (RFC 7515 §4.1.9): `JWT` (RFC 7519, what most issuers write) and `at+jwt` (RFC 9068,
 * JWT access tokens). An absent `typ` is accepted too (many issuers omit it, and so do the
 * development tokens of `npm run token`). Anything else says the token is meant for something
 * other than calling an API and is refused (401 unauthorized): a refresh token (`refresh`,
 * `rt+jwt`), an ID token (`id+jwt`), a logout, DPoP proof or security event token (`logout+jwt`,
 * `dpop+jwt`, `secevent+jwt`), `JOSE`, an empty or non-string `typ`. Checked after the signature,
 * so an unsigned header changes nothing. An issuer that signs other tokens with the same key must
 * mark them so (a `typ` claim in the payload, as Keycloak writes, is not read).
 */
const ACCESS_TOKEN_TYPES = new Set(["jwt", "at+jwt"]);
function isAccessTokenType(typ: unknown): boolean {
  if (typ === undefined) return true;
  return typeof typ === "string" && ACCESS_TOKEN_TYPES.has(typ.toLowerCase().replace(/^application\//, ""));
}

export async function verifyToken(token: string, env: Env): Promise<Auth> {
  let payload: JWTPayload;
  let header: JWTHeaderParameters;
  // A token must expire, and must be for us when an issuer/audience is configured.
  const checks = {
    requiredClaims: ["exp"],
    maxTokenAge: env.JWT_MAX_AGE,
    ...(env.JWT_ISSUER ? { issuer: env.JWT_ISSUER } : {}),
    ...(env.JWT_AUDIENCE ? { audience: env.JWT_AUDIENCE } : {}),
  };
  try {
    if (env.JWKS_URL) {
      let jwks = jwksCache.get(env.JWKS_URL);
      if (!jwks) {
        jwks = createRemoteJWKSet(new URL(env.JWKS_URL));
        jwksCache.set(env.JWKS_URL, jwks);
      }
      ({ payload, protectedHeader: header } = await jwtVerify(token, jwks, {
        ...checks,
        algorithms: ["RS256", "ES256", "EdDSA"],
      }));
    } else {
      ({ payload, protectedHeader: header } = await jwtVerify(token, await hmacKey(env.JWT_SECRET!), {
        ...checks,
        algorithms: ["HS256"],
      }));
    }
  } catch {
    throw new ApiError("unauthorized", "Invalid or expired token");
  }
  if (!isAccessTokenType(header.typ)) throw new ApiError("unauthorized", "Not an access token");
  const claims = Claims.safeParse(payload);
  if (!claims.success) throw new ApiError("unauthorized", "Token lacks a valid sub or role");
  return { userId: claims.data.sub, role: claims.data.role };
}

/** Requires `Authorization: Bearer <JWT>`; optionally one of the given roles (else 403). */
export function requireAuth(...roles: Auth["role"][]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError("unauthorized", "Missing bearer token");
    const auth = await verifyToken(match[1]!, c.get("env"));
    if (roles.length > 0 && !roles.includes(auth.role))
      throw new ApiError("forbidden", "Not allowed for this role");
    c.set("auth", auth);
    await next();
  };
}
