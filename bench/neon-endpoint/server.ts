/**
 * The benchmarked handler, run in its own process: GET /pacientes/:id → one row as JSON.
 * MODE=pg runs it with a node-postgres Pool straight to PostgreSQL (the baseline); MODE=neon runs
 * the same handler with neon() over HTTP through the local Neon endpoint, using Node's fetch
 * (undici) as an app would. Diagnostics only (apps keep fetch), to show how much of the gap is the
 * client's fetch(): MODE=neon-agent sets `neonConfig.fetchFunction` to node:http over a keep-alive
 * agent, MODE=neon-undici to undici's `request()` over an undici Pool (the undici wrangler brings
 * along; Node's fetch is undici too, minus the WHATWG Request/Response layers).
 * SQL_URL is the /sql URL: the local endpoint, or the zero-cost ceiling responder (ceiling.ts).
 * Prints "READY <port>".
 */
import http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { neon } from "@neondatabase/serverless";
import pg from "pg";
import { configureNeon } from "../../db/neon-config";
import { QUERY } from "./shared";

type Lookup = (id: string) => Promise<unknown[]>;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** The subset of a fetch() Response the driver reads: ok, status, json, text. */
function fetchResponse(status: number, text: string) {
  return {
    ok: status >= 200 && status < 300,
    status,
    json: async () => JSON.parse(text),
    text: async () => text,
  };
}

/** The subset of fetch() the driver uses, over node:http. */
function agentFetch(url: string, init: { body: string; headers: Record<string, string> }) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", agent, headers: { ...init.headers, "Content-Length": Buffer.byteLength(init.body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve(fetchResponse(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

interface UndiciBody {
  text(): Promise<string>;
}
interface Undici {
  Pool: new (origin: string, opts: { connections: number }) => object;
  request(
    url: string,
    opts: { method: string; headers: Record<string, string>; body: string; dispatcher: object },
  ): Promise<{ statusCode: number; body: UndiciBody }>;
}

/** The same subset of fetch() over undici's request() (no WHATWG Request/Response objects). */
function undiciFetch(sqlUrl: string) {
  // Not a dependency of the project: the copy wrangler installs, for this diagnostic only.
  const undici = createRequire(import.meta.url)("../../node_modules/wrangler/node_modules/undici") as Undici;
  const dispatcher = new undici.Pool(new URL(sqlUrl).origin, { connections: 64 });
  return async (url: string, init: { body: string; headers: Record<string, string> }) => {
    const res = await undici.request(url, {
      method: "POST",
      headers: init.headers,
      body: init.body,
      dispatcher,
    });
    return fetchResponse(res.statusCode, await res.body.text());
  };
}

function lookup(): Lookup {
  if (process.env.MODE === "pg") {
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
    return async (id) => (await pool.query(QUERY, [id])).rows;
  }
  const mode = process.env.MODE;
  configureNeon({
    fetchEndpoint: process.env.SQL_URL!,
    fetchFunction:
      mode === "neon-agent"
        ? agentFetch
        : mode === "neon-undici"
          ? undiciFetch(process.env.SQL_URL!)
          : undefined,
  });
  const sql = neon(process.env.DATABASE_URL!);
  return (id) => sql.query(QUERY, [id]) as Promise<unknown[]>;
}

const find = lookup();
const server = http.createServer(async (req, res) => {
  const id = req.url?.startsWith("/pacientes/") ? req.url.slice(11) : "";
  try {
    const rows = await find(id);
    const body = rows.length ? JSON.stringify(rows[0]) : '{"error":"not_found"}';
    res.writeHead(rows.length ? 200 : 404, { "Content-Type": "application/json" });
    res.end(body);
  } catch (err) {
    res.writeHead(500, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ error: (err as Error).message }));
  }
});
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => console.log(`READY ${(server.address() as AddressInfo).port}`));
// Exit cleanly on a signal so `--cpu-prof` profiles get written when profiling this server.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));
