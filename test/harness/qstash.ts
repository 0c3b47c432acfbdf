import { createHash } from "node:crypto";
import { SignJWT } from "jose";

/** An Upstash-Signature as QStash makes it, with a knob to make it expired. */
export async function signQStash(key: string, url: string, body: string, opts: { expiredBy?: number } = {}) {
  const now = Math.floor(Date.now() / 1000) - (opts.expiredBy ?? 0);
  const hash = createHash("sha256").update(body).digest("base64url");
  return new SignJWT({ body: hash })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(url)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 300)
    .setJti(`jwt_${crypto.randomUUID()}`)
    .sign(new TextEncoder().encode(key));
}
