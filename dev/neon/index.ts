/**
 * The local Neon endpoint: a stand-in for Neon's proxy that @neondatabase/serverless cannot tell
 * apart from Neon for what the project uses — HTTP POST /sql (single queries and transactional
 * batches), the WebSocket /v1 tunnel for Pool/Client, and the Postgres wire protocol over plain
 * TCP (psql, pg_dump, `pg`) — on one port; the first bytes of a connection tell which (tcp.ts).
 * Which endpoint a connection is for comes from one table of hosts (hosts.ts) that the control
 * plane extends; an unknown endpoint is refused as a failed login, as Neon does.
 *
 * Backends: a real PostgreSQL when `postgresUrl` is given (clients run as their own roles), else an
 * embedded PGlite (see backend-pglite.ts for its single-session limits). Browsers are answered
 * only from the development origins and only under local Host names (origin-check.ts); every unit
 * of work is checked to have stayed its role (identity-check.ts).
 */
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { LOCAL } from "../config";
import { Authenticator } from "./auth";
import type { Backend } from "./backend";
import { startPgliteBackend } from "./backend-pglite";
import { startPostgresBackend } from "./backend-postgres";
import { EndpointHosts, type EndpointRoute } from "./hosts";
import { corsHeaders, createSqlHandler } from "./http-sql";
import { requestCheck } from "./origin-check";
import { sniffConnection } from "./tcp";
import { handleWebSocket, webSocketHost } from "./ws-proxy";

export interface NeonEndpointOptions {
  /** default LOCAL.ports.neon; tests pass 0 */
  port?: number;
  /** default 127.0.0.1 */
  hostname?: string;
  /** a superuser URL of a real Postgres (LOCAL_POSTGRES_URL); absent → embedded PGlite */
  postgresUrl?: string;
  /** PGlite data dir; default ".data/pglite/<database>"; "memory://" for in-memory */
  dataDir?: string;
  /** default LOCAL.database */
  database?: string;
  /** The endpoint's id (Neon's `ep-...`), default LOCAL.endpointId: see hosts.ts. */
  endpointId?: string;
  /** name → password; default LOCAL.roles */
  roles?: Record<string, string>;
  /** backend connections per (role, database) on postgres; default 20 */
  poolSize?: number;
  /**
   * Longest an HTTP request may take, default 5 min: on postgres its backend query is cancelled
   * and the socket dropped; on PGlite a request still waiting for the shared session gives up.
   * Answered as a 400 NeonDbError with code 57014.
   */
  requestTimeoutMs?: number;
  /**
   * Browser origins answered (exact strings or patterns); default http://localhost,
   * http://127.0.0.1 and http://[::1] on any port. Requests without an Origin (Node, workerd)
   * are always answered; any other Origin gets 403.
   */
  allowedOrigins?: (string | RegExp)[];
  /**
   * Host names (no port) accepted in the Host header besides localhost, 127.0.0.1, [::1] and
   * `hostname`, e.g. a name a container reaches the endpoint by. Others get 403 (DNS rebinding).
   */
  allowedHosts?: string[];
  log?: (line: string) => void;
}

export interface NeonEndpoint {
  /** http://127.0.0.1:PORT */
  url: string;
  /** http://127.0.0.1:PORT/sql → neonConfig.fetchEndpoint */
  sqlUrl: string;
  /** 127.0.0.1:PORT/v1 → neonConfig.wsProxy (with useSecureWebSocket = false) */
  wsProxy: string;
  backend: "pglite" | "postgres";
  /** postgresql://... over plain TCP works too: psql, pg_dump, `pg` (no TLS). */
  port: number;
  /** The endpoints served here and their host names; the control plane adds its branches. */
  hosts: EndpointHosts;
  /**
   * What the endpoint has served so far: tests count Neon HTTP round trips with it, in all and per
   * endpoint id (which branch or replica answered).
   */
  stats: { sqlRequests: number; byEndpoint: Record<string, number> };
  /**
   * Listens on a port of its own for `route` (0: any free one) and serves it there and under its
   * endpoint id (hosts.ts): `postgresql://u:p@127.0.0.1:<port>/db` reaches it with any client.
   * Resolves with the port.
   */
  serveEndpoint(route: EndpointRoute, port?: number): Promise<number>;
  /**
   * Stops serving an endpoint added with serveEndpoint: new logins to it fail, and connections that
   * came in on its own port are closed (sessions opened through the main port by naming it in
   * `options` last until they end).
   */
  stopServing(endpointId: string): Promise<void>;
  /** Hands HTTP requests under `prefix` (e.g. "/api/v2") to `handler` (the local Neon API). */
  mount(prefix: string, handler: http.RequestListener): void;
  /** postgresql://role:pw@localhost:PORT/db */
  connectionString(role?: string, database?: string): string;
  close(): Promise<void>;
}

export async function startNeonEndpoint(opts: NeonEndpointOptions = {}): Promise<NeonEndpoint> {
  const database = opts.database ?? LOCAL.database;
  const roles = opts.roles ?? LOCAL.roles;
  const hostname = opts.hostname ?? LOCAL.host;
  const log = opts.log ?? ((line: string) => console.error(line));
  const backend: Backend = opts.postgresUrl
    ? await startPostgresBackend({
        postgresUrl: opts.postgresUrl,
        database,
        roles,
        poolSize: opts.poolSize ?? 20,
        requestTimeoutMs: opts.requestTimeoutMs,
        log,
      })
    : await startPgliteBackend({
        dataDir: opts.dataDir ?? `.data/pglite/${database}`,
        database,
        roles,
        requestTimeoutMs: opts.requestTimeoutMs,
        log,
      });

  const main: EndpointRoute = {
    endpointId: opts.endpointId ?? LOCAL.endpointId,
    auth: new Authenticator(roles, database),
    backend,
  };
  const hosts = new EndpointHosts(main, [
    "localhost",
    "127.0.0.1",
    "[::1]",
    hostname,
    ...(opts.allowedHosts ?? []),
  ]);
  const stats = { sqlRequests: 0, byEndpoint: {} as Record<string, number> };
  const mounts: [string, http.RequestListener][] = [];
  const handleSql = createSqlHandler(hosts, log, (id) => {
    stats.byEndpoint[id] = (stats.byEndpoint[id] ?? 0) + 1;
  });
  const refusal = requestCheck({
    allowedOrigins: opts.allowedOrigins,
    allowedHosts: opts.allowedHosts,
    listening: hostname,
  });
  const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    const refused = refusal(req);
    if (refused) {
      res.writeHead(403, { "Content-Type": "application/json" }); // and no CORS headers
      return void res.end(JSON.stringify({ message: refused }));
    }
    const origin = req.headers.origin;
    const path = req.url?.split("?")[0];
    const mounted = mounts.find(([prefix]) => path === prefix || path?.startsWith(`${prefix}/`));
    if (mounted) return void mounted[1](req, res);
    if (path === "/sql") {
      if (req.method === "POST") {
        stats.sqlRequests++;
        return void handleSql(req, res);
      }
      if (req.method === "OPTIONS") {
        res.writeHead(204, origin ? corsHeaders(origin) : {});
        return void res.end();
      }
    }
    if (req.method === "GET" && (path === "/" || path === "/health")) {
      const stopped = backend.guard.stopped;
      res.writeHead(stopped ? 503 : 200, { "Content-Type": "application/json" });
      return void res.end(
        JSON.stringify({ ok: !stopped, backend: backend.kind, database, stopped: stopped ?? undefined }),
      );
    }
    res.writeHead(404, { "Content-Type": "application/json", ...(origin ? corsHeaders(origin) : {}) });
    res.end(JSON.stringify({ message: "not found" }));
  });
  // Keep-alive sockets from fetch() clients outlive single requests; don't let Node cut them early.
  server.keepAliveTimeout = 65_000;

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on("upgrade", (req, socket, head) => {
    const refused = refusal(req);
    if (refused) {
      const body = JSON.stringify({ message: refused });
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    const path = req.url?.split("?")[0];
    if (path !== "/v1" && path !== "/v2") {
      socket.destroy();
      return;
    }
    const host = webSocketHost(req);
    wss.handleUpgrade(req, socket, head, (ws) => handleWebSocket(ws, hosts, host, log));
  });

  // One port for HTTP, WebSocket and Postgres: each connection is sorted by its first bytes.
  const sockets = new Set<net.Socket>();
  const accept = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    sniffConnection(socket, server, hosts, log);
  };
  const listener = net.createServer({ noDelay: true }, accept);
  /** Endpoints with a port of their own, and their listeners. */
  const own = new Map<string, net.Server>();
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(opts.port ?? LOCAL.ports.neon, hostname, () => resolve());
  });
  const { port } = listener.address() as AddressInfo;
  const url = `http://${hostname}:${port}`;

  return {
    url,
    sqlUrl: `${url}/sql`,
    wsProxy: `${hostname}:${port}/v1`,
    backend: backend.kind,
    port,
    hosts,
    stats,
    async serveEndpoint(route, wanted = 0) {
      const extra = net.createServer({ noDelay: true }, accept);
      await new Promise<void>((resolve, reject) => {
        extra.once("error", reject);
        extra.listen(wanted, hostname, () => resolve());
      });
      const p = (extra.address() as AddressInfo).port;
      try {
        hosts.add(route, [], p);
      } catch (err) {
        extra.close();
        throw err;
      }
      own.set(route.endpointId.toLowerCase(), extra);
      return p;
    },
    async stopServing(endpointId) {
      hosts.remove(endpointId);
      const extra = own.get(endpointId.toLowerCase());
      if (!extra) return;
      own.delete(endpointId.toLowerCase());
      const port = (extra.address() as AddressInfo).port;
      for (const socket of sockets) if (socket.localPort === port) socket.destroy();
      await new Promise<void>((resolve) => extra.close(() => resolve()));
    },
    mount(prefix, handler) {
      mounts.push([prefix, handler]);
    },
    connectionString(role = "fisioflow_app", db = database) {
      const password = roles[role] ?? "";
      return `postgresql://${encodeURIComponent(role)}:${encodeURIComponent(password)}@localhost:${port}/${encodeURIComponent(db)}`;
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      for (const extra of own.values()) extra.close();
      own.clear();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await backend.close();
    },
  };
}
