/**
 * WebSocket /v1 (and /v2, the driver's default path): Postgres wire protocol inside binary frames,
 * as Neon's proxy serves it to the driver's Pool/Client. The login is wire-frontend.ts's; the
 * endpoint is the one the WebSocket names: the driver's `?address=<host>:<port>` (a string
 * wsProxy), else the Host header.
 */
import type { IncomingMessage } from "node:http";
import type { WebSocket } from "ws";
import type { EndpointHosts } from "./hosts";
import { wireFrontend } from "./wire-frontend";

/** The host a WebSocket upgrade asks for, with its port (an endpoint may have a port of its own). */
export function webSocketHost(req: IncomingMessage): string | undefined {
  const query = req.url?.includes("?") ? new URLSearchParams(req.url.slice(req.url.indexOf("?") + 1)) : null;
  return query?.get("address") || req.headers.host;
}

export function handleWebSocket(
  ws: WebSocket,
  hosts: EndpointHosts,
  host: string | undefined,
  log: (l: string) => void,
): void {
  const frontend = wireFrontend({
    hosts,
    host,
    log,
    io: {
      send(data) {
        if (ws.readyState === ws.OPEN) ws.send(data, { binary: true });
      },
      close() {
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
      },
    },
  });
  ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    frontend.push(
      Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data as ArrayBuffer),
    );
  });
  ws.on("close", () => frontend.close());
  ws.on("error", () => frontend.close());
}
