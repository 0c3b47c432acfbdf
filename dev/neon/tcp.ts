/**
 * Plain TCP on the endpoint's port: the first byte tells a Postgres client (a StartupMessage,
 * SSLRequest, GSSENCRequest or CancelRequest starts with its length, whose high byte is 0) from
 * HTTP (a method name) and from a TLS ClientHello (0x16, refused: no TLS locally). Postgres
 * clients get the same login and backend sessions as the WebSocket tunnel (wire-frontend.ts), so
 * psql, pg_dump, drizzle-kit and `pg` work with the connection string the app uses.
 */
import type { Server as HttpServer } from "node:http";
import type net from "node:net";
import type { EndpointHosts } from "./hosts";
import { wireFrontend } from "./wire-frontend";

/** How long a client may take to log in (PostgreSQL's authentication_timeout). */
const LOGIN_TIMEOUT_MS = 60_000;
const TLS_HANDSHAKE = 0x16;

export function sniffConnection(
  socket: net.Socket,
  http: HttpServer,
  hosts: EndpointHosts,
  log: (line: string) => void,
): void {
  socket.setTimeout(LOGIN_TIMEOUT_MS, () => socket.destroy());
  socket.once("data", (chunk: Buffer) => {
    socket.pause();
    if (chunk[0] === TLS_HANDSHAKE) return void socket.destroy();
    if (chunk[0] !== 0) {
      socket.setTimeout(0);
      socket.unshift(chunk);
      http.emit("connection", socket);
      socket.resume();
      return;
    }
    servePostgres(socket, chunk, hosts, log);
  });
}

function servePostgres(socket: net.Socket, first: Buffer, hosts: EndpointHosts, log: (line: string) => void) {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 30_000);
  const frontend = wireFrontend({
    hosts,
    port: socket.localPort,
    log,
    io: {
      send(data) {
        if (!socket.destroyed) socket.write(data);
      },
      close() {
        if (!socket.destroyed) socket.end();
      },
    },
  });
  const push = (chunk: Buffer) => {
    frontend.push(chunk);
    if (frontend.open) socket.setTimeout(0);
  };
  socket.on("data", push);
  socket.on("close", () => frontend.close());
  socket.on("error", () => frontend.close());
  push(first);
  socket.resume();
}
