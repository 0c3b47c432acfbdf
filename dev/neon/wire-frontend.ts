/**
 * The proxy's side of a wire-protocol login, the same over the WebSocket tunnel and plain TCP.
 *
 * The proxy plays the server until the password is checked: StartupMessage → it answers
 * AuthenticationCleartextPassword (as Neon's proxy does to the driver) → PasswordMessage → the
 * endpoint, role, password and database are verified (hosts.ts: ErrorResponse 28P01 / 3D000 and
 * close on failure) → the endpoint's backend takes over from AuthenticationOk on. Clients that
 * pipeline (the driver's pipelineConnect="password") send startup, password and their first
 * queries without waiting, so bytes past the password are buffered and handed on in order.
 *
 * SSLRequest and GSSENCRequest are answered 'N' (no TLS locally; over the WebSocket it is the
 * WebSocket's business anyway). A CancelRequest is passed on to the backends that can cancel
 * (PostgreSQL: the key is its own) and the connection closed, as a server does.
 */
import type { Backend, Session, SessionIO } from "./backend";
import type { EndpointHosts } from "./hosts";
import { authenticationRequest, errorResponse, readStartupParams } from "./protocol";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** Longest startup packet accepted (PostgreSQL's MAX_STARTUP_PACKET_LENGTH). */
const MAX_STARTUP = 10_000;

export interface WireFrontend {
  /** Client bytes, in order. */
  push(chunk: Buffer): void;
  /** The client went away. */
  close(): void;
  /** Whether the login is done and a backend session holds the connection. */
  readonly open: boolean;
}

export interface WireFrontendOptions {
  hosts: EndpointHosts;
  /** The host the client asked for (WebSocket address); absent on plain TCP (no SNI here). */
  host?: string;
  /** Plain TCP: the port the connection came in on (an endpoint may have one of its own). */
  port?: number;
  io: SessionIO;
  log: (line: string) => void;
}

export function wireFrontend(opts: WireFrontendOptions): WireFrontend {
  const { hosts, io } = opts;
  let buf: Buffer = Buffer.alloc(0);
  let stage: "startup" | "password" | "open" | "closed" = "startup";
  let params: Record<string, string> = {};
  let session: Session | null = null;

  const close = () => {
    if (stage === "closed") return;
    stage = "closed";
    session?.end();
    session = null;
    io.close();
  };
  const fail = (severity: string, code: string, message: string) => {
    io.send(errorResponse(severity, code, message));
    close();
  };

  const advance = () => {
    for (;;) {
      if (stage === "startup") {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (len < 8 || len > MAX_STARTUP) return fail("FATAL", "08P01", "invalid length of startup packet");
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        const msg = buf.subarray(0, len);
        buf = buf.subarray(len);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          io.send(Buffer.from("N"));
          continue;
        }
        if (code === CANCEL_REQUEST) {
          if (len === 16) cancelEverywhere(hosts, msg.readInt32BE(8), msg.readInt32BE(12));
          return close();
        }
        if (code !== PROTOCOL_3)
          return fail("FATAL", "08P01", `unsupported frontend protocol ${code >> 16}.${code & 0xffff}`);
        params = readStartupParams(msg);
        stage = "password";
        io.send(authenticationRequest(3)); // AuthenticationCleartextPassword, as Neon asks
        continue;
      }
      if (stage === "password") {
        if (buf.length < 5) return;
        const len = buf.readInt32BE(1);
        if (len < 4 || len > MAX_STARTUP) return fail("FATAL", "08P01", "invalid password packet");
        if (buf.length < 1 + len) return;
        if (buf[0] !== 0x70) return fail("FATAL", "08P01", "expected password message");
        const password = buf.toString("utf8", 5, 1 + len - 1);
        buf = buf.subarray(1 + len);
        const { user = "", database, options, ...rest } = params;
        const login = hosts.login({
          host: opts.host,
          port: opts.port,
          user,
          password,
          database: database ?? user,
          options,
        });
        if (!login.ok) {
          return fail(login.error.severity ?? "FATAL", login.error.code ?? "28P01", login.error.message);
        }
        const { backend } = login.route;
        if (backend.guard.stopped) return fail("FATAL", "57P03", backend.guard.refusal().message);
        stage = "open";
        const startup = login.options === undefined ? rest : { ...rest, options: login.options };
        session = backend.openSession(login.role, login.database, startup, io);
        if (buf.length) session.write(buf);
        buf = Buffer.alloc(0);
        return;
      }
      return;
    }
  };

  return {
    get open() {
      return stage === "open";
    },
    push(chunk) {
      if (stage === "open") return void session?.write(chunk);
      if (stage === "closed") return;
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      try {
        advance();
      } catch (err) {
        opts.log(`neon endpoint: wire protocol login failed: ${(err as Error).message}`);
        fail("FATAL", "08P01", "protocol error");
      }
    },
    close,
  };
}

function cancelEverywhere(hosts: EndpointHosts, pid: number, secret: number): void {
  const seen = new Set<Backend>();
  for (const route of hosts.routesServed()) {
    if (seen.has(route.backend)) continue;
    seen.add(route.backend);
    route.backend.cancel?.(pid, secret);
  }
}
