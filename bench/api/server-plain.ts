/**
 * The baselines, in their own process: the same four endpoints on bare node:http, no framework, no
 * validation, no JWT (the caller's id comes from the x-bench-user header), no Redis. Each request
 * runs the route's own SQL (bench/api/common.ts) after the identity statement, in one transaction,
 * under the app role's RLS:
 *   MODE=neon — `neon-bare`: neon() over HTTP through the local endpoint (SQL_URL), the identity
 *               statement and the query in one sql.transaction([...]): one round trip, as ours.
 *   MODE=pg   — `pg-pool`: a node-postgres Pool (max 20) straight to PostgreSQL (DATABASE_URL),
 *               BEGIN; set_config(...); query; COMMIT on one client: the persistent-server baseline.
 *   MODE=prisma — `prisma`: the plan's stack, Prisma 7 over @prisma/adapter-neon's WebSocket Pool
 *               through the local endpoint (WS_PROXY), Prisma's query API (bench/api/prisma-backend.ts).
 * Prints "READY <port> <statsPort>" (statsPort: requests started and in flight, as JSON).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { neon } from "@neondatabase/serverless";
import pg from "pg";
import { configureNeon } from "../../db/neon-config";
import { AUTH_SQL } from "../../db/session";
import { configureNeonForLocal } from "../../dev/neon/client";
import {
  BENCH_SIGNER,
  bookConsulta,
  consultasOfPaciente,
  DURACAO_MIN,
  PAGE,
  pacienteById,
  ROLE,
  type Statement,
  searchPacientes,
  USER_HEADER,
} from "./common";
import { prismaOps } from "./prisma-backend";

type Run = (userId: string, s: Statement) => Promise<Record<string, unknown>[]>;

function runner(): Run {
  if (process.env.MODE === "pg") {
    const pool = new pg.Pool({
      connectionString: process.env.DATABASE_URL,
      max: 20,
      idleTimeoutMillis: 5000,
    });
    return async (userId, s) => {
      const client = await pool.connect();
      try {
        await client.query(s.readOnly ? "BEGIN READ ONLY" : "BEGIN");
        await client.query(AUTH_SQL, [await BENCH_SIGNER.token(userId, ROLE)]);
        const { rows } = await client.query(s.text, s.params);
        await client.query("COMMIT");
        return rows;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    };
  }
  configureNeon({ fetchEndpoint: process.env.SQL_URL! });
  const sql = neon(process.env.DATABASE_URL!);
  return async (userId, s) => {
    const results = await sql.transaction(
      [sql.query(AUTH_SQL, [await BENCH_SIGNER.token(userId, ROLE)]), sql.query(s.text, s.params)],
      {
        readOnly: s.readOnly,
      },
    );
    return results[1] as Record<string, unknown>[];
  };
}

/** The four endpoints' database work for one caller: SQL statements, or Prisma's query API. */
interface Ops {
  pacienteById(userId: string, id: string): Promise<unknown>;
  consultasOfPaciente(userId: string, pacienteId: string, from: string, to: string): Promise<unknown[]>;
  searchPacientes(userId: string, q: string): Promise<Record<string, unknown>[]>;
  bookConsulta(userId: string, pacienteId: string, at: string): Promise<unknown>;
}

async function operations(): Promise<Ops> {
  if (process.env.MODE === "prisma") {
    configureNeonForLocal({ sqlUrl: process.env.SQL_URL!, wsProxy: process.env.WS_PROXY! });
    const prisma = await prismaOps(process.env.DATABASE_URL!, ROLE);
    return {
      pacienteById: (u, id) => prisma.pacienteById(u, id),
      consultasOfPaciente: (u, p, from, to) => prisma.consultasOfPaciente(u, p, from, to, PAGE + 1),
      searchPacientes: async (u, q) => {
        const s = searchPacientes(q);
        return (await prisma.searchPacientes(u, s.text, s.params)) as Record<string, unknown>[];
      },
      bookConsulta: (u, p, at) => prisma.bookConsulta(u, p, at, DURACAO_MIN),
    };
  }
  const run = runner();
  return {
    pacienteById: async (u, id) => (await run(u, pacienteById(id)))[0],
    consultasOfPaciente: (u, p, from, to) => run(u, consultasOfPaciente(p, from, to)),
    searchPacientes: (u, q) => run(u, searchPacientes(q)),
    bookConsulta: async (u, p, at) => (await run(u, bookConsulta(u, p, at)))[0],
  };
}

const ops = await operations();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Status and JSON body of one request. */
async function handle(req: http.IncomingMessage, userId: string): Promise<[number, unknown]> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const path = url.pathname;
  if (req.method === "GET" && path.startsWith("/v1/pacientes/")) {
    const row = await ops.pacienteById(userId, path.slice("/v1/pacientes/".length));
    return row ? [200, row] : [404, { error: "not_found" }];
  }
  if (req.method === "GET" && path === "/v1/pacientes") {
    const rows = await ops.searchPacientes(userId, url.searchParams.get("q") ?? "");
    return [200, { data: rows.filter((r) => r.id !== null) }];
  }
  if (req.method === "GET" && path === "/v1/consultas") {
    const q = url.searchParams;
    const rows = await ops.consultasOfPaciente(userId, q.get("paciente_id")!, q.get("from")!, q.get("to")!);
    return [200, { data: rows.slice(0, PAGE) }];
  }
  if (req.method === "POST" && path === "/v1/consultas") {
    const body = JSON.parse(await readBody(req)) as { paciente_id: string; data_consulta: string };
    const row = await ops.bookConsulta(userId, body.paciente_id, body.data_consulta);
    return row ? [201, row] : [422, { error: "unprocessable_entity" }];
  }
  return [404, { error: "not_found" }];
}

/** For the bench: requests started and in flight, served as JSON on a second port. */
const stats = { requests: 0, inFlight: 0 };

const server = http.createServer(async (req, res) => {
  stats.requests++;
  stats.inFlight++;
  const userId = req.headers[USER_HEADER];
  let status: number;
  let body: unknown;
  try {
    if (typeof userId !== "string" || !UUID.test(userId)) [status, body] = [401, { error: "unauthorized" }];
    else [status, body] = await handle(req, userId);
  } catch (err) {
    const code = (err as { code?: string }).code;
    [status, body] = [code === "23P01" ? 409 : 500, { error: (err as Error).message, code }];
  }
  stats.inFlight--;
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
});
server.keepAliveTimeout = 65_000;
const statsServer = http.createServer((_req, res) => {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify(stats));
});
const port = (s: http.Server) => (s.address() as AddressInfo).port;
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
await new Promise<void>((resolve) => statsServer.listen(0, "127.0.0.1", resolve));
console.log(`READY ${port(server)} ${port(statsServer)}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));
