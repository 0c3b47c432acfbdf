/**
 * WebSocket /v1 (and /v2, the driver's default path): Postgres wire protocol inside binary frames,
 * as Neon's proxy serves it to the driver's Pool/Client.
 *
 * The proxy plays the server until the password is checked: StartupMessage → it answers
 * AuthenticationCleartextPassword → PasswordMessage → role/password/database verified here
 * (ErrorResponse 28P01 / 3D000 and close on failure) → the backend takes over from
 * AuthenticationOk on. With pipelineConnect="password" the driver sends startup, password and its
 * first queries without waiting, so bytes past the password are buffered and handed on in order.
 */
import type { WebSocket } from "ws";
import type { Authenticator } from "./auth";
import type { Backend, Session } from "./backend";
import { authenticationRequest, errorResponse, readStartupParams } from "./protocol";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

export function handleWebSocket(
  ws: WebSocket,
  auth: Authenticator,
  backend: Backend,
  log: (l: string) => void,
): void {
  let buf: Buffer = Buffer.alloc(0);
  let stage: "startup" | "password" | "open" | "closed" = "startup";
  let params: Record<string, string> = {};
  let session: Session | null = null;

  const send = (data: Buffer) => {
    if (ws.readyState === ws.OPEN) ws.send(data, { binary: true });
  };
  const close = () => {
    if (stage === "closed") return;
    stage = "closed";
    session?.end();
    session = null;
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
  };
  const fail = (severity: string, code: string, message: string) => {
    send(errorResponse(severity, code, message));
    close();
  };

  const advance = () => {
    for (;;) {
      if (stage === "startup") {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        const msg = buf.subarray(0, len);
        buf = buf.subarray(len);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          send(Buffer.from("N")); // TLS runs in the WebSocket (or not at all locally)
          continue;
        }
        if (code === CANCEL_REQUEST) return close();
        if (code !== 196608)
          return fail("FATAL", "08P01", `unsupported frontend protocol ${code >> 16}.${code & 0xffff}`);
        params = readStartupParams(msg);
        stage = "password";
        send(authenticationRequest(3)); // AuthenticationCleartextPassword, as Neon asks
        continue;
      }
      if (stage === "password") {
        if (buf.length < 5) return;
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) return;
        if (buf[0] !== 0x70) return fail("FATAL", "08P01", "expected password message");
        const password = buf.toString("utf8", 5, 1 + len - 1);
        buf = buf.subarray(1 + len);
        const user = params.user ?? "";
        const result = auth.check(user, password, params.database ?? user);
        if (!result.ok) {
          return fail(result.error.severity ?? "FATAL", result.error.code ?? "28P01", result.error.message);
        }
        if (backend.guard.stopped) return fail("FATAL", "57P03", backend.guard.refusal().message);
        stage = "open";
        const { user: _u, database: _d, ...rest } = params;
        session = backend.openSession(result.role, result.database, rest, { send, close });
        if (buf.length) session.write(buf);
        buf = Buffer.alloc(0);
        return;
      }
      return;
    }
  };

  ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    const chunk = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data as ArrayBuffer);
    if (stage === "open") {
      session?.write(chunk);
      return;
    }
    if (stage === "closed") return;
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    try {
      advance();
    } catch (err) {
      log(`neon endpoint: websocket failed: ${(err as Error).message}`);
      fail("FATAL", "08P01", "protocol error");
    }
  });
  ws.on("close", close);
  ws.on("error", close);
}
