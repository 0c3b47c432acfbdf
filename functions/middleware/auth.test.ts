import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { IN_PROCESS_ENV, requestApp } from "../../test/harness/app";
import { createApp } from "../app";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { requireAuth, verifyToken } from "./auth";

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

describe("verifyToken: token age", () => {
  it("rejects a token issued longer ago than JWT_MAX_AGE, even though it has not expired", async () => {
    // Valid for 24 h from its iat, issued `hours` ago.
    const issuedAgo = (hours: number) => {
      const iat = Math.floor(Date.now() / 1000) - hours * 3600;
      return new SignJWT({ sub, role: "admin" })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuedAt(iat)
        .setExpirationTime(iat + 24 * 3600)
        .sign(new TextEncoder().encode(secret));
    };
    await expect(verifyToken(await issuedAgo(13), env)).rejects.toSatisfy(
      (e) => e instanceof ApiError && e.code === "unauthorized",
    );
    // Control: the same shape issued 11 h ago is accepted.
    const fresh = await issuedAgo(11);
    expect((await verifyToken(fresh, env)).role).toBe("admin");
  });
});

describe("requireAuth in the app", () => {
  // The real app (init, error model) with one probe route behind requireAuth("admin").
  const app = createApp();
  app.get("/probe/admin-only", requireAuth("admin"), (c) => c.json({ user: c.get("auth")?.userId }));
  app.get("/probe/any-role", requireAuth(), (c) => c.json({ role: c.get("auth")?.role }));
  const call = async (path: string, role: string | null) => {
    const headers: Record<string, string> = {};
    if (role) {
      const key = IN_PROCESS_ENV.JWT_SECRET!;
      headers.authorization = `Bearer ${await token({ sub, role }, key)}`;
    }
    return requestApp(app, path, { headers });
  };

  it("answers 403 forbidden to a valid token of another role, 200 to the role it names", async () => {
    const denied = await call("/probe/admin-only", "fisioterapeuta");
    expect(denied.status).toBe(403);
    expect((await denied.json()) as unknown).toMatchObject({ error: { code: "forbidden" } });
    const allowed = await call("/probe/admin-only", "admin");
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ user: sub });
  });

  it("lets every role through when none is named, and no token through at all", async () => {
    expect(await (await call("/probe/any-role", "paciente")).json()).toEqual({ role: "paciente" });
    const none = await call("/probe/any-role", null);
    expect(none.status).toBe(401);
    expect((await none.json()) as unknown).toMatchObject({ error: { code: "unauthorized" } });
  });
});
