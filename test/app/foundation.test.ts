import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testBackends } from "../harness/backends";
import { type Cloud, startCloud, startWorker } from "../harness/cloud";
import { json } from "../harness/http";

const backends = await testBackends();

describe.each(backends)("worker foundation on $name", ({ name, skip }) => {
  let cloud: Cloud;
  beforeAll(async () => {
    if (skip) return;
    cloud = await startCloud({ backend: name });
  });
  afterAll(async () => {
    await cloud?.close();
  });
  const get = (path: string, init?: RequestInit) => fetch(`${cloud.workerUrl}${path}`, init);

  it.skipIf(skip)("GET /health runs a query through the Neon driver and reports db and redis", async () => {
    const res = await get("/health");
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.status).toBe("ok");
    expect(body.checks.db.status).toBe("ok");
    expect(typeof body.checks.db.latency_ms).toBe("number");
    expect(body.checks.redis.status).toBe("ok");
    // No secret of any kind in the answer.
    for (const secret of [
      "password",
      "postgresql://",
      cloud.vars.UPSTASH_REDIS_REST_TOKEN,
      cloud.vars.JWT_SECRET,
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it.skipIf(skip)("answers with a request id, echoing a well-formed incoming one", async () => {
    const own = await get("/health", { headers: { "x-request-id": "client-abc-12345" } });
    expect(own.headers.get("x-request-id")).toBe("client-abc-12345");
    const bad = await get("/health", { headers: { "x-request-id": "<script>" } });
    expect(bad.headers.get("x-request-id")).toMatch(/^req_[0-9a-f-]{36}$/);
  });

  it.skipIf(skip)("unknown routes answer the error model with 404", async () => {
    const res = await get("/nothing-here");
    expect(res.status).toBe(404);
    const body = await json(res);
    expect(body.error.code).toBe("not_found");
    expect(body.error.request_id).toBe(res.headers.get("x-request-id"));
  });

  it.skipIf(skip)("rejects bodies over the limit with 413 payload_too_large", async () => {
    const res = await get("/jobs/heartbeat", {
      method: "POST",
      body: "x".repeat(300 * 1024),
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(413);
    expect((await json(res)).error.code).toBe("payload_too_large");
  });

  it.skipIf(skip)("sets secure headers and CORS from the allow-list only", async () => {
    const ok = await get("/health", { headers: { origin: "http://localhost:5173" } });
    expect(ok.headers.get("x-content-type-options")).toBe("nosniff");
    expect(ok.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    const other = await get("/health", { headers: { origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it.skipIf(skip)("serves a generated OpenAPI document", async () => {
    const res = await get("/openapi.json");
    expect(res.status).toBe(200);
    const doc = await json(res);
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/health");
  });
});

describe.skipIf(backends[0]!.skip)("worker with a broken environment", () => {
  let cloud: Cloud;
  beforeAll(async () => {
    cloud = await startCloud({ backend: "pglite", migrate: false, vars: { QSTASH_CURRENT_SIGNING_KEY: "" } });
  });
  afterAll(async () => {
    await cloud?.close();
  });

  it("answers 500 bad_environment naming the key, not its value", async () => {
    const res = await fetch(`${cloud.workerUrl}/health`);
    expect(res.status).toBe(500);
    const body = await json(res);
    expect(body.error.code).toBe("bad_environment");
    expect(body.error.details.keys).toEqual(["QSTASH_CURRENT_SIGNING_KEY"]);
    expect(JSON.stringify(body)).not.toContain(cloud.vars.DATABASE_URL);
  });
});

describe.skipIf(backends[0]!.skip)("worker whose database refuses it", () => {
  let cloud: Cloud;
  beforeAll(async () => {
    cloud = await startCloud({ backend: "pglite", migrate: false });
    // Same endpoint, wrong password: the endpoint checks credentials as Neon's proxy does.
    await cloud.worker.stop();
    const vars = { ...cloud.vars, DATABASE_URL: cloud.vars.DATABASE_URL!.replace(/:[^:@/]+@/, ":wrong@") };
    cloud.worker = await startWorker(vars);
    cloud.workerUrl = `http://${cloud.worker.address}:${cloud.worker.port}`;
  });
  afterAll(async () => {
    await cloud?.close();
  });

  it("GET /health answers 503 with the SQLSTATE and no secrets", async () => {
    const res = await fetch(`${cloud.workerUrl}/health`);
    expect(res.status).toBe(503);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.status).toBe("down");
    expect(body.checks.db).toMatchObject({ status: "error", error: "28P01" });
    expect(text).not.toContain("wrong");
  });
});
