/**
 * The benchmarked handler, run in its own process: GET /pacientes/:id → one row as JSON.
 * MODE=pg runs it with a node-postgres Pool straight to PostgreSQL (the baseline); MODE=neon runs
 * the same handler with neon() over HTTP through the local Neon endpoint, using Node's fetch
 * (undici) as an app would; MODE=neon-agent does the same with `neonConfig.fetchFunction` over a
 * keep-alive node:http agent — only to show how much of the gap is the client's fetch().
 * Prints "READY <port>".
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { neon, neonConfig } from "@neondatabase/serverless";
import pg from "pg";

const QUERY = "select id, nome, email, telefone, data_nascimento, criado_em from pacientes where id = $1";

type Lookup = (id: string) => Promise<unknown[]>;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** The subset of fetch() the driver uses (ok, status, json, text), over node:http. */
function agentFetch(url: string, init: { body: string; headers: Record<string, string> }) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", agent, headers: { ...init.headers, "Content-Length": Buffer.byteLength(init.body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          resolve({
            ok: status >= 200 && status < 300,
            status,
            json: async () => JSON.parse(text),
            text: async () => text,
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

function lookup(): Lookup {
  if (process.env.MODE === "pg") {
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
    return async (id) => (await pool.query(QUERY, [id])).rows;
  }
  neonConfig.fetchEndpoint = process.env.SQL_URL!;
  if (process.env.MODE === "neon-agent") neonConfig.fetchFunction = agentFetch;
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
