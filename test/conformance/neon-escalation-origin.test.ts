/**
 * Browsers reach the local endpoint only from the development origins, and only under a local
 * Host name: a page elsewhere cannot use the well-known local owner password through it (CORS),
 * nor through a DNS name it points at 127.0.0.1 (DNS rebinding). Server-side clients (Node,
 * workerd) send no Origin and keep working.
 */
import http from "node:http";
import { neon, Pool } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** node:http, so that any Host and Origin can be sent as is. */
function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "GET", headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** The status a WebSocket upgrade gets (101 when it opens). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on("open", () => {
      ws.close();
      resolve(101);
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.on("error", (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

for (const { name, skip } of backends) {
  describe.skipIf(skip)(`origins and hosts the endpoint answers on ${name}`, () => {
    let t: TestEndpoint;
    let post: (headers: Record<string, string>) => Promise<Reply>;

    beforeAll(async () => {
      t = await startTestEndpoint(name, { prefix: "neon_esc_origin" });
      post = (headers) =>
        request(t.endpoint.sqlUrl, {
          method: "POST",
          headers: { "Neon-Connection-String": t.ownerUrl, "Content-Type": "application/json", ...headers },
          body: JSON.stringify({ query: "SELECT current_user AS u", params: [] }),
        });
    });
    afterAll(async () => {
      await t?.close();
    });

    it("refuses a foreign Origin with 403 and no CORS headers", async () => {
      const res = await post({ Origin: "http://evil.example" });
      expect(res.status).toBe(403);
      expect(res.headers["access-control-allow-origin"]).toBeUndefined();
      expect(res.body).toMatch(/evil\.example/);
      const preflight = await request(t.endpoint.sqlUrl, {
        method: "OPTIONS",
        headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "POST" },
      });
      expect(preflight.status).toBe(403);
      expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
      for (const origin of ["null", "https://localhost.evil.example", "http://localhost.evil.example:5173"]) {
        expect((await post({ Origin: origin })).status, origin).toBe(403);
      }
    });

    it("echoes a development Origin (never *)", async () => {
      for (const origin of ["http://localhost:5173", "http://127.0.0.1:3000", "http://localhost"]) {
        const res = await post({ Origin: origin });
        expect(res.status, origin).toBe(200);
        expect(res.headers["access-control-allow-origin"], origin).toBe(origin);
        expect(res.headers.vary, origin).toMatch(/Origin/);
        expect(JSON.parse(res.body).rows, origin).toEqual([{ u: "fisioflow_owner" }]);
      }
      const preflight = await request(t.endpoint.sqlUrl, {
        method: "OPTIONS",
        headers: { Origin: "http://localhost:5173", "Access-Control-Request-Method": "POST" },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers["access-control-allow-origin"]).toBe("http://localhost:5173");
      expect(preflight.headers["access-control-allow-headers"]).toMatch(/Neon-Connection-String/);
    });

    it("refuses a foreign Host (DNS rebinding), on every path and on the WebSocket upgrade", async () => {
      const port = new URL(t.endpoint.url).port;
      for (const host of ["evil.example", `evil.example:${port}`, `localhost.evil.example:${port}`]) {
        const res = await post({ Host: host });
        expect(res.status, host).toBe(403);
        expect(res.headers["access-control-allow-origin"], host).toBeUndefined();
        expect((await request(`${t.endpoint.url}/health`, { headers: { Host: host } })).status, host).toBe(
          403,
        );
        expect(await upgradeStatus(`ws://${t.endpoint.wsProxy}`, { Host: host }), host).toBe(403);
      }
      // The local names are fine, with or without the port.
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "localhost"]) {
        expect((await post({ Host: host })).status, host).toBe(200);
      }
    });

    it("refuses a WebSocket upgrade from a foreign Origin, accepts a development one", async () => {
      expect(await upgradeStatus(`ws://${t.endpoint.wsProxy}`, { Origin: "http://evil.example" })).toBe(403);
      expect(await upgradeStatus(`ws://${t.endpoint.wsProxy}`, { Origin: "http://localhost:5173" })).toBe(
        101,
      );
    });

    it("keeps serving the official Node client (no Origin) over HTTP and WebSocket", async () => {
      expect(await neon(t.appUrl).query("SELECT current_user AS u")).toEqual([{ u: "fisioflow_app" }]);
      const pool = new Pool({ connectionString: t.appUrl, max: 1 });
      try {
        expect((await pool.query("SELECT current_user AS u")).rows).toEqual([{ u: "fisioflow_app" }]);
      } finally {
        await pool.end();
      }
    });
  });
}
