import { describe, expect, it } from "vitest";
import { parseEnv } from "./env";

const good = {
  DATABASE_URL: "postgresql://fisioflow_app:pw@ep-x-pooler.sa-east-1.aws.neon.tech/fisioflow?sslmode=require",
  QSTASH_CURRENT_SIGNING_KEY: "sig_a",
  QSTASH_NEXT_SIGNING_KEY: "sig_b",
  JWT_SECRET: "s".repeat(32),
};

describe("parseEnv", () => {
  it("accepts a complete environment and applies defaults", () => {
    const r = parseEnv(good);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.env.ENVIRONMENT).toBe("development");
      expect(r.env.LOG_LEVEL).toBe("info");
    }
  });

  it("names every missing key and never echoes a value", () => {
    const r = parseEnv({ ...good, DATABASE_URL: undefined, QSTASH_NEXT_SIGNING_KEY: undefined });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.keys.sort()).toEqual(["DATABASE_URL", "QSTASH_NEXT_SIGNING_KEY"]);
    const bad = parseEnv({ ...good, DATABASE_URL: "mysql://user:topsecret@host/db" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).not.toContain("topsecret");
  });

  it("rejects pgbouncer=true, which is not a Neon parameter (the pooled host is the -pooler one)", () => {
    const r = parseEnv({ ...good, DATABASE_URL: `${good.DATABASE_URL}&pgbouncer=true` });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain("-pooler");
  });

  it("treats empty values as unset", () => {
    expect(parseEnv({ ...good, JWKS_URL: "", NEON_WS_PROXY: "", PUBLIC_URL: "" }).ok).toBe(true);
    expect(parseEnv({ ...good, DATABASE_URL: "" })).toMatchObject({ ok: false, keys: ["DATABASE_URL"] });
  });

  it("requires a way to verify JWTs", () => {
    const r = parseEnv({ ...good, JWT_SECRET: undefined });
    expect(r).toMatchObject({ ok: false, keys: ["JWT_SECRET"] });
    expect(parseEnv({ ...good, JWT_SECRET: undefined, JWKS_URL: "https://auth.example/jwks" }).ok).toBe(true);
    expect(parseEnv({ ...good, JWT_SECRET: "short" }).ok).toBe(false);
  });
});
