/**
 * `ours-node`: the real app (createApp() from functions/app.ts) under @hono/node-server, served as
 * the test harness serves it (test/harness/app.ts serveApp: IN_PROCESS_ENV under the given
 * bindings, a fresh ExecutionContext per request), in its own process. The bindings come from the
 * environment the bench passes (APP_* variables, prefix stripped): the app role's DATABASE_URL
 * through the local endpoint, NEON_FETCH_ENDPOINT, NEON_WS_PROXY, JWT_SECRET, the Upstash Redis
 * emulator, RATE_LIMIT_PER_MINUTE, LOG_LEVEL.
 *
 * For the bench only, around the app (not in it): a count of requests started and in flight, and
 * of the app's fetch() calls to Redis (the Upstash REST API), served as JSON on a second port.
 * Prints "READY <port> <statsPort>".
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createApp } from "../../functions/app";
import { executionContext, IN_PROCESS_ENV } from "../../test/harness/app";

const bindings: Record<string, string> = {
  ...IN_PROCESS_ENV,
  ENVIRONMENT: "development",
  ...Object.fromEntries(
    Object.entries(process.env)
      .filter(([k, v]) => k.startsWith("APP_") && v !== undefined)
      .map(([k, v]) => [k.slice(4), v as string]),
  ),
};

const stats = { requests: 0, inFlight: 0, redisCalls: 0 };
const redisOrigin = bindings.UPSTASH_REDIS_REST_URL ? new URL(bindings.UPSTASH_REDIS_REST_URL).origin : null;
const realFetch = globalThis.fetch;
globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (redisOrigin && url.startsWith(redisOrigin)) stats.redisCalls++;
  return realFetch(input, init);
}) as typeof fetch;

const app = createApp();
const listening = (s: { address(): AddressInfo | string | null }) => (s.address() as AddressInfo).port;
const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
  const s = serve(
    {
      fetch: async (req) => {
        stats.requests++;
        stats.inFlight++;
        try {
          return await app.fetch(req, bindings, executionContext());
        } finally {
          stats.inFlight--;
        }
      },
      port: 0,
      hostname: "127.0.0.1",
    },
    () => resolve(s),
  );
});
const statsServer = http.createServer((_req, res) => {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify(stats));
});
await new Promise<void>((resolve) => statsServer.listen(0, "127.0.0.1", resolve));
console.log(`READY ${listening(server)} ${listening(statsServer)}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    setTimeout(() => process.exit(0), 2000).unref();
    statsServer.close();
    server.close(() => process.exit(0));
  });
}
