import { SignJWT } from "jose";
import type { Auth } from "../../db/session";

/** A bearer token as the clinic's identity provider would issue it (HS256, 5 minutes by default). */
export async function tokenFor(auth: Auth, secret: string, ttl = "5m"): Promise<string> {
  return new SignJWT({ role: auth.role })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(auth.userId)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(secret));
}
