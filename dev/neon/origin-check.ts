/**
 * Who may talk to the local endpoint over HTTP and WebSocket, besides knowing a role's password.
 * The local passwords are public (dev/config.ts), so without this any web page a developer opens
 * could run SQL as the owner through their browser:
 *
 * - Origin: browsers send it on cross-origin requests and on every WebSocket handshake (CORS does
 *   not protect WebSockets at all). Only the configured development origins are answered, their
 *   origin echoed in Access-Control-Allow-Origin (never "*"); any other Origin, "null" included,
 *   gets 403. Server-side clients (Node, workerd, the tests) send no Origin and are unaffected.
 * - Host: a page on a name the attacker points at 127.0.0.1 (DNS rebinding) is same-origin with
 *   the endpoint, so it sends no Origin on a GET, but its Host is the attacker's name. Only local
 *   names (localhost, 127.0.0.1, [::1]), the name the endpoint listens on and configured extra
 *   names are accepted, with any port. The driver sends the connection string's host in the
 *   Neon-Connection-String header, not as Host: Host is wherever neonConfig.fetchEndpoint /
 *   wsProxy point, 127.0.0.1 (db/neon-config.ts routes localhost:PORT connection strings there).
 */
import type { IncomingMessage } from "node:http";

/** http://localhost, http://127.0.0.1 and http://[::1], any port: dev servers (Vite, wrangler, ...). */
export const DEFAULT_ALLOWED_ORIGINS: readonly (string | RegExp)[] = [
  /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/,
];

const LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

/** The host name of a Host header, lower case, without port or trailing dot ("[::1]" keeps its brackets). */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  const name = h.startsWith("[") ? h.slice(0, h.indexOf("]") + 1) : h.replace(/:\d*$/, "");
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

export interface RequestCheckOptions {
  allowedOrigins?: readonly (string | RegExp)[];
  /** Host names accepted besides the local ones and `listening` (no port). */
  allowedHosts?: readonly string[];
  /** The host name the server listens on (a wildcard address adds nothing). */
  listening: string;
}

/** Returns a check of a request's Host and Origin: null when it may be served, else why not. */
export function requestCheck(opts: RequestCheckOptions): (req: IncomingMessage) => string | null {
  const origins = opts.allowedOrigins ?? DEFAULT_ALLOWED_ORIGINS;
  const hosts = new Set([...LOCAL_HOSTS, ...(opts.allowedHosts ?? []).map(hostName)]);
  const listening = hostName(opts.listening.includes(":") ? `[${opts.listening}]` : opts.listening);
  if (listening !== "0.0.0.0" && listening !== "[::]") hosts.add(listening);
  return (req) => {
    const host = req.headers.host;
    if (!host) return "missing Host header";
    if (!hosts.has(hostName(host)))
      return `Host ${host} is not a name of the local Neon endpoint (allowed: ${[...hosts].join(", ")}); add it to the endpoint's allowedHosts if it is yours`;
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    if (origins.some((o) => (typeof o === "string" ? o === origin : o.test(origin)))) return null;
    return `Origin ${origin} may not use the local Neon endpoint (it answers browsers only from its development origins, e.g. http://localhost:5173); add it to the endpoint's allowedOrigins if it is yours`;
  };
}
