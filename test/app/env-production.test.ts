/**
 * Production refuses development secrets (issue 10, item 3), with the app in process:
 * - no environment variable can switch @upstash/qstash into its dev mode (QSTASH_DEV, read from
 *   process.env, which `nodejs_compat` fills from the worker's vars and secrets), where its
 *   Receiver accepts Upstash's public development signing keys and its Client talks to a local
 *   dev server;
 * - a staging/production environment holding development values answers 500 bad_environment
 *   naming the keys, never their values (the rules themselves: functions/env.test.ts);
 * - a bearer token whose `typ` header says it is not an access token answers 401 unauthorized.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { QSTASH_DEV_CREDENTIALS } from "../../dev/qstash/credentials";
import { createApp } from "../../functions/app";
import { requireAuth } from "../../functions/middleware/auth";
import { defineJob } from "../../jobs/types";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { json } from "../harness/http";
import { signQStash } from "../harness/qstash";

const WORKER = "http://worker.internal";

/** One POST /jobs/<name> as QStash would make it, signed with `key`. */
function deliver(
  app: ReturnType<typeof createApp>,
  name: string,
  key: string,
  env: Record<string, string> = {},
) {
  return signQStash(key, `${WORKER}/jobs/${name}`, "{}").then((signature) =>
    requestApp(
      app,
      `${WORKER}/jobs/${name}`,
      {
        method: "POST",
        body: "{}",
        headers: { "upstash-signature": signature, "upstash-message-id": `msg_${crypto.randomUUID()}` },
      },
      env,
    ),
  );
}

/** A stand-in for the QStash API that records what is published to it. As `devServer`, it also
 * answers GET /v2/keys the way the library's dev mode recognises its local dev server (so dev mode,
 * if it were on, would publish here instead of downloading Upstash's binary). */
async function fakeQStash(opts: { devServer: boolean }) {
  const published: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on("end", () => {
      if (opts.devServer && req.method === "GET" && req.url === "/v2/keys") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            current: QSTASH_DEV_CREDENTIALS.currentSigningKey,
            next: QSTASH_DEV_CREDENTIALS.nextSigningKey,
          }),
        );
        return;
      }
      if (req.method === "POST" && req.url?.startsWith("/v2/publish/")) {
        published.push(`${req.headers.authorization} ${decodeURIComponent(req.url.slice(12))}`);
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ messageId: `msg_${published.length}` }));
        return;
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    published,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe("QSTASH_DEV in process.env cannot switch on @upstash/qstash's dev mode", () => {
  const saved = { QSTASH_DEV: process.env.QSTASH_DEV, QSTASH_DEV_PORT: process.env.QSTASH_DEV_PORT };
  beforeEach(() => {
    process.env.QSTASH_DEV = "1";
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("refuses a message signed with Upstash's development signing keys (401, the job does not run)", async () => {
    const app = createApp();
    for (const key of [QSTASH_DEV_CREDENTIALS.currentSigningKey, QSTASH_DEV_CREDENTIALS.nextSigningKey]) {
      const res = await deliver(app, "heartbeat", key);
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe("unauthorized");
    }
  });

  it("still verifies against the configured signing keys", async () => {
    const res = await deliver(createApp(), "heartbeat", IN_PROCESS_ENV.QSTASH_CURRENT_SIGNING_KEY!);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "skipped" });
  });

  it("publishes follow-up messages to the configured QSTASH_URL with QSTASH_TOKEN, not to a dev server", async () => {
    const configured = await fakeQStash({ devServer: false });
    const devServer = await fakeQStash({ devServer: true });
    process.env.QSTASH_DEV_PORT = String(devServer.port);
    try {
      const relay = defineJob({
        name: "relay",
        description: "publishes one follow-up",
        payload: z.object({}).strict(),
        async run(ctx) {
          const { messageId } = await ctx.publisher!.publish("heartbeat", {});
          return { status: "done", messageId };
        },
      });
      const app = createApp({ jobs: { relay } });
      const res = await deliver(app, "relay", IN_PROCESS_ENV.QSTASH_CURRENT_SIGNING_KEY!, {
        QSTASH_URL: configured.url,
        QSTASH_TOKEN: "production-qstash-token",
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "done", messageId: "msg_1" });
      expect(configured.published).toEqual([`Bearer production-qstash-token ${WORKER}/jobs/heartbeat`]);
      expect(devServer.published).toEqual([]);
    } finally {
      await configured.close();
      await devServer.close();
    }
  });
});

describe("a staging or production environment with development values", () => {
  const probe = () => {
    const app = createApp();
    app.get("/probe/env", (c) => c.json({ environment: c.get("env").ENVIRONMENT }));
    return app;
  };

  it("answers 500 bad_environment naming the keys, never their values", async () => {
    const localCloud = {
      ENVIRONMENT: "production",
      DATABASE_URL: "postgresql://fisioflow_app:app-local-password@localhost:4444/fisioflow",
      NEON_FETCH_ENDPOINT: "http://127.0.0.1:4444/sql",
      QSTASH_TOKEN: QSTASH_DEV_CREDENTIALS.token,
      QSTASH_CURRENT_SIGNING_KEY: QSTASH_DEV_CREDENTIALS.currentSigningKey,
    };
    const res = await requestApp(probe(), "/probe/env", {}, localCloud);
    expect(res.status).toBe(500);
    const body = await json(res);
    expect(body.error.code).toBe("bad_environment");
    expect([...body.error.details.keys].sort()).toEqual([
      "DATABASE_URL",
      // The harness's identity key is the local cloud's (dev/config.ts).
      "DB_IDENTITY_KEY",
      "JWT_AUDIENCE",
      "JWT_ISSUER",
      "NEON_FETCH_ENDPOINT",
      "QSTASH_CURRENT_SIGNING_KEY",
      "QSTASH_TOKEN",
    ]);
    expect(body.error.message).toContain("DATABASE_URL: a development value");
    expect(body.error.message).toContain("NEON_FETCH_ENDPOINT: must be unset in production");
    expect(body.error.message).toContain("JWT_ISSUER: required in production");
    const text = JSON.stringify(body);
    for (const value of Object.values(localCloud).slice(1)) expect(text).not.toContain(value);
    expect(text).not.toContain("app-local-password");
  });

  it("serves once the values are production ones (and the test environment as before)", async () => {
    const production = {
      ENVIRONMENT: "production",
      JWT_ISSUER: "https://auth.example",
      JWT_AUDIENCE: "edge",
      DB_IDENTITY_KEY: "a-production-identity-key-0123456789abcdef",
    };
    const res = await requestApp(probe(), "/probe/env", {}, production);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ environment: "production" });
    expect(await (await requestApp(probe(), "/probe/env")).json()).toEqual({ environment: "test" });
  });
});

describe("bearer tokens: only access tokens (the typ header)", () => {
  const sub = "7d1f4e0a-3c2b-4a59-9f1e-2b8c6d5e4f30";
  const app = createApp();
  app.get("/probe/auth", requireAuth(), (c) => c.json({ role: c.get("auth")?.role }));
  const call = async (typ: unknown) => {
    const header = { alg: "HS256", ...(typ === undefined ? {} : { typ }) } as { alg: string; typ?: string };
    const token = await new SignJWT({ sub, role: "admin" })
      .setProtectedHeader(header)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(IN_PROCESS_ENV.JWT_SECRET!));
    return requestApp(app, "/probe/auth", { headers: { authorization: `Bearer ${token}` } });
  };

  it.each([
    undefined,
    "JWT",
    "jwt",
    "application/jwt",
    "at+jwt",
    "AT+JWT",
    "application/at+jwt",
    "Application/At+JWT",
  ])("accepts typ %s", async (typ) => {
    const res = await call(typ);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ role: "admin" });
  });

  it.each([
    "refresh",
    "Refresh",
    "rt+jwt",
    "refresh+jwt",
    "id+jwt",
    "logout+jwt",
    "dpop+jwt",
    "secevent+jwt",
    "JOSE",
    "",
    7,
  ])("refuses typ %s with 401 unauthorized", async (typ) => {
    const res = await call(typ);
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("unauthorized");
  });
});
