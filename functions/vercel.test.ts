import { afterEach, describe, expect, it } from "vitest";
import handler, { config } from "./vercel";

const vars = {
  DATABASE_URL: "postgresql://fisioflow_app:pw@ep-x-pooler.sa-east-1.aws.neon.tech/fisioflow",
  QSTASH_CURRENT_SIGNING_KEY: "sig_a",
  QSTASH_NEXT_SIGNING_KEY: "sig_b",
  JWT_SECRET: "v".repeat(40),
  DB_IDENTITY_KEY: "k".repeat(40),
};

describe("Vercel Edge entry", () => {
  afterEach(() => {
    for (const k of Object.keys(vars)) delete process.env[k];
  });

  it("is an edge function serving the same app with process.env as bindings", async () => {
    expect(config).toEqual({ runtime: "edge" });
    Object.assign(process.env, vars);
    const res = await handler(new Request("http://localhost/openapi.json"));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { openapi: string }).openapi).toBe("3.1.0");
  });

  it("answers bad_environment when a variable is missing", async () => {
    const res = await handler(new Request("http://localhost/openapi.json"));
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("bad_environment");
  });
});
