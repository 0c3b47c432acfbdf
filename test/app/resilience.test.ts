/**
 * The API in process against a database that does not answer: reads are retried, then answered
 * 503 with Retry-After; after a run of failures the circuit opens and requests fail at once,
 * without touching the database. Writes with an unknown outcome are not retried.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../functions/app";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { tokenFor } from "../harness/auth";

describe("/v1 when the database does not answer", () => {
  // A stand-in for a Neon proxy that is down: every /sql request gets a 502, and is counted.
  let calls = 0;
  let server: http.Server;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      calls++;
      req.resume();
      res.writeHead(502).end("bad gateway");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as AddressInfo;
    env = {
      NEON_FETCH_ENDPOINT: `http://127.0.0.1:${port}/sql`,
      DATABASE_URL: `postgresql://fisioflow_app:pw@localhost:${port}/fisioflow`,
    };
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("retries a read, answers 503 with Retry-After, then opens the circuit and stops calling", async () => {
    const app = createApp();
    const token = await tokenFor({ userId: crypto.randomUUID(), role: "admin" }, IN_PROCESS_ENV.JWT_SECRET!);
    const get = () =>
      requestApp(app, "/v1/pacientes", { headers: { authorization: `Bearer ${token}` } }, env);

    const first = await get();
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toBe("1");
    expect(((await first.json()) as { error: { code: string } }).error.code).toBe("service_unavailable");
    expect(calls).toBe(3); // the first attempt and two retries

    const write = await requestApp(
      app,
      "/v1/pacientes",
      {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: '{"nome":"X","fisioterapeuta_id":"7d1f4e0a-3c2b-4a59-9f1e-2b8c6d5e4f30"}',
      },
      env,
    );
    expect(write.status).toBe(503);
    expect(calls).toBe(4); // a write whose outcome is unknown is not retried

    // Five consecutive failures opened the circuit: now it fails at once.
    const open = await get();
    expect(open.status).toBe(503);
    // The breaker probes again after its first wait (1 s), so that is when to come back.
    expect(open.headers.get("retry-after")).toBe("1");
    expect(calls).toBe(5);
    const again = await get();
    expect(again.status).toBe(503);
    expect(calls).toBe(5);
  });
});
