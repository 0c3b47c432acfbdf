import { createHash, randomUUID } from "node:crypto";
import { SignJWT } from "jose";

/**
 * The Upstash-Signature of one delivery: an HS256 JWT over the claims QStash sends. `body` is the
 * base64url SHA-256 of the raw body *with* padding, as QStash's Go encoder writes it (Receiver
 * strips padding on both sides before comparing). It is signed with the current signing key, as
 * QStash does (the next key only verifies after a rotation), and is valid for 5 minutes, QStash's
 * lifetime. `nowMs` is the signing time: the wall clock, not the emulator's schedule clock, since
 * the receiver checks iat/nbf/exp against its own wall clock.
 */
export async function signDelivery(
  signingKey: string,
  url: string,
  body: Buffer,
  nowMs: number,
): Promise<string> {
  const nowSec = Math.floor(nowMs / 1000);
  const bodyHash = createHash("sha256")
    .update(body)
    .digest("base64")
    .replaceAll("+", "-")
    .replaceAll("/", "_");
  return new SignJWT({ body: bodyHash })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(url)
    .setIssuedAt(nowSec)
    .setNotBefore(nowSec)
    .setExpirationTime(nowSec + 5 * 60)
    .setJti(`jwt_${randomUUID().replaceAll("-", "")}`)
    .sign(new TextEncoder().encode(signingKey));
}
