import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { verifyToken } from "./auth";

const secret = "unit-test-secret-0123456789-0123456789";
const env = { JWT_SECRET: secret, JWT_MAX_AGE: "12h" } as Env;
const sub = "7d1f4e0a-3c2b-4a59-9f1e-2b8c6d5e4f30";

function token(claims: Record<string, unknown>, key = secret, exp: string | null = "5m") {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (exp) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(key));
}

describe("verifyToken", () => {
  it("returns sub and role of a valid token", async () => {
    expect(await verifyToken(await token({ sub, role: "fisioterapeuta" }), env)).toEqual({
      userId: sub,
      role: "fisioterapeuta",
    });
  });

  it.each([
    ["wrong key", () => token({ sub, role: "admin" }, "another-secret-0123456789-0123456789")],
    ["expired", () => token({ sub, role: "admin" }, secret, "-1m")],
    ["unknown role", () => token({ sub, role: "root" })],
    ["sub not a uuid", () => token({ sub: "42", role: "admin" })],
    ["garbage", async () => "not.a.jwt"],
    ["no exp (would never expire)", () => token({ sub, role: "admin" }, secret, null)],
    ["alg none", async () => `${btoa('{"alg":"none"}')}.${btoa(JSON.stringify({ sub, role: "admin" }))}.`],
  ])("rejects %s with unauthorized", async (_label, make) => {
    await expect(verifyToken(await make(), env)).rejects.toSatisfy(
      (e) => e instanceof ApiError && e.code === "unauthorized",
    );
  });

  it("checks issuer and audience when configured", async () => {
    const strict = {
      ...env,
      JWT_ISSUER: "https://auth.fisioflow.app",
      JWT_AUDIENCE: "fisioflow-edge",
    } as Env;
    const ok = await token({ sub, role: "admin", iss: "https://auth.fisioflow.app", aud: "fisioflow-edge" });
    expect((await verifyToken(ok, strict)).role).toBe("admin");
    const otherApp = await token({
      sub,
      role: "admin",
      iss: "https://auth.fisioflow.app",
      aud: "another-app",
    });
    await expect(verifyToken(otherApp, strict)).rejects.toBeInstanceOf(ApiError);
  });
});
