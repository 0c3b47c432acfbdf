import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { LOCAL, localConnectionString } from "../dev/config";
import { QSTASH_DEV_CREDENTIALS } from "../dev/qstash/credentials";
import { parseVars } from "../scripts/lib/vars";
import { parseEnv } from "./env";

const good = {
  DATABASE_URL: "postgresql://fisioflow_app:pw@ep-x-pooler.sa-east-1.aws.neon.tech/fisioflow?sslmode=require",
  QSTASH_CURRENT_SIGNING_KEY: "sig_a",
  QSTASH_NEXT_SIGNING_KEY: "sig_b",
  JWT_SECRET: "s".repeat(32),
  DB_IDENTITY_KEY: "i".repeat(32),
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

describe("parseEnv: staging and production refuse development values", () => {
  // Every development value the repository ships, read from where the local cloud takes it.
  const example = parseVars(readFileSync(resolve(import.meta.dirname, "../.dev.vars.example"), "utf8"));
  const prod = {
    ...good,
    ENVIRONMENT: "production",
    JWT_ISSUER: "https://auth.fisioflow.app",
    JWT_AUDIENCE: "fisioflow-edge",
  };
  const refused = (overrides: Record<string, string | undefined>, environment = "production") =>
    parseEnv({ ...prod, ENVIRONMENT: environment, ...overrides });

  it("accepts a production environment with real values, and loads .dev.vars.example as is in development and test", () => {
    expect(parseEnv(prod).ok).toBe(true);
    expect(parseEnv({ ...prod, ENVIRONMENT: "staging" }).ok).toBe(true);
    for (const ENVIRONMENT of ["development", "test"]) {
      const r = parseEnv({ ...example, ENVIRONMENT });
      expect(r.ok, ENVIRONMENT).toBe(true);
    }
  });

  it("refuses .dev.vars.example in production, naming every development key and echoing no value", () => {
    for (const environment of ["staging", "production"]) {
      const r = parseEnv({ ...example, ENVIRONMENT: environment });
      expect(r.ok, environment).toBe(false);
      if (r.ok) continue;
      expect(r.keys.sort()).toEqual(
        [
          "DATABASE_OWNER_URL",
          "DATABASE_URL",
          "DB_IDENTITY_KEY",
          "EXPORT_KEY",
          "JWT_AUDIENCE",
          "JWT_ISSUER",
          "JWT_SECRET",
          "NEON_API_KEY",
          "NEON_API_URL",
          "NEON_FETCH_ENDPOINT",
          "NEON_WS_PROXY",
          "QSTASH_CURRENT_SIGNING_KEY",
          "QSTASH_NEXT_SIGNING_KEY",
          "QSTASH_TOKEN",
          "UPSTASH_REDIS_REST_TOKEN",
        ].sort(),
      );
      // No value of the file (the short ones are words like "info", found in any message).
      for (const [key, value] of Object.entries(example)) {
        if (value.length >= 12) expect(r.message, key).not.toContain(value);
      }
      expect(r.message).toContain(`JWT_SECRET: a development value, refused in ${environment}`);
      expect(r.message).toContain(`NEON_FETCH_ENDPOINT: must be unset in ${environment}`);
      expect(r.message).toContain(`JWT_ISSUER: required in ${environment}`);
    }
  });

  it("refuses each well-known development secret of the local cloud (dev/config.ts, dev/qstash)", () => {
    const cases: [string, string][] = [
      ["QSTASH_TOKEN", QSTASH_DEV_CREDENTIALS.token],
      ["QSTASH_CURRENT_SIGNING_KEY", QSTASH_DEV_CREDENTIALS.currentSigningKey],
      ["QSTASH_CURRENT_SIGNING_KEY", QSTASH_DEV_CREDENTIALS.nextSigningKey],
      ["QSTASH_NEXT_SIGNING_KEY", QSTASH_DEV_CREDENTIALS.nextSigningKey],
      ["QSTASH_NEXT_SIGNING_KEY", QSTASH_DEV_CREDENTIALS.currentSigningKey],
      ["UPSTASH_REDIS_REST_TOKEN", LOCAL.redisToken],
      ["JWT_SECRET", example.JWT_SECRET!],
      ["DB_IDENTITY_KEY", LOCAL.identityKey.secret],
      ["NEON_API_KEY", LOCAL.neonApi.key],
      ["DB_IDENTITY_KEY", example.DB_IDENTITY_KEY!],
      ["EXPORT_KEY", LOCAL.exportKey.base64],
      ["EXPORT_KEY", example.EXPORT_KEY!],
    ];
    for (const [key, value] of cases) {
      const r = refused({ [key]: value });
      expect(r, key).toMatchObject({ ok: false, keys: [key] });
      if (!r.ok) {
        expect(r.message).toBe(`${key}: a development value, refused in production`);
        expect(r.message).not.toContain(value);
      }
      expect(parseEnv({ ...prod, ENVIRONMENT: "development", [key]: value }).ok, key).toBe(true);
    }
  });

  it("refuses a connection string to a local host or with a local role's password", () => {
    const neonHost = "ep-x-pooler.sa-east-1.aws.neon.tech";
    const cases: [string, string][] = [
      ["DATABASE_URL", localConnectionString("fisioflow_app")],
      ["DATABASE_URL", "postgresql://fisioflow_app:real-secret@127.0.0.1:5432/fisioflow"],
      ["DATABASE_URL", "postgres://fisioflow_app:real-secret@LOCALHOST/fisioflow"],
      ["DATABASE_URL", "postgresql://fisioflow_app:real-secret@[::1]:5432/fisioflow"],
      // Every local role's password (dev/config.ts), even on a Neon host.
      ...Object.keys(LOCAL.roles).flatMap((role): [string, string][] => [
        ["DATABASE_URL", localConnectionString(role, "fisioflow", neonHost)],
        ["DATABASE_OWNER_URL", localConnectionString(role, "fisioflow", neonHost)],
      ]),
      ["DATABASE_OWNER_URL", "postgresql://fisioflow_owner:real-secret@localhost:4444/fisioflow"],
      [
        "READ_REPLICA_URLS",
        `${good.DATABASE_URL},postgresql://fisioflow_app:real-secret@127.0.0.1/fisioflow`,
      ],
    ];
    for (const [key, value] of cases) {
      const r = refused({ [key]: value });
      expect(r, value).toMatchObject({ ok: false, keys: [key] });
      if (!r.ok) {
        expect(r.message).toMatch(
          new RegExp(`^${key}: a development value \\(local (host|role password)\\)`),
        );
        expect(r.message).not.toContain("real-secret");
        expect(r.message).not.toContain("local-password");
      }
    }
    const real = `postgresql://fisioflow_owner:real-secret@${neonHost}/fisioflow`;
    expect(
      refused({ DATABASE_OWNER_URL: real, READ_REPLICA_URLS: `${good.DATABASE_URL},${good.DATABASE_URL}` })
        .ok,
    ).toBe(true);
  });

  it("refuses the local cloud's Neon overrides: production talks to Neon's own hosts", () => {
    for (const [key, value] of [
      ["NEON_FETCH_ENDPOINT", "https://proxy.example/sql"],
      ["NEON_WS_PROXY", "proxy.example/v1"],
    ] as const) {
      expect(refused({ [key]: value })).toEqual({
        ok: false,
        keys: [key],
        message: `${key}: must be unset in production`,
      });
      expect(refused({ [key]: value }, "staging")).toMatchObject({ ok: false, keys: [key] });
      expect(refused({ [key]: "" }).ok).toBe(true);
    }
  });

  it("requires JWT_ISSUER and JWT_AUDIENCE in staging and production only", () => {
    expect(refused({ JWT_ISSUER: undefined, JWT_AUDIENCE: "" }, "staging")).toEqual({
      ok: false,
      keys: ["JWT_ISSUER", "JWT_AUDIENCE"],
      message: "JWT_ISSUER: required in staging; JWT_AUDIENCE: required in staging",
    });
    expect(refused({ JWT_AUDIENCE: undefined })).toMatchObject({ ok: false, keys: ["JWT_AUDIENCE"] });
    expect(refused({ JWT_ISSUER: undefined, JWT_AUDIENCE: undefined }, "test").ok).toBe(true);
  });
});
