/**
 * The local Neon endpoint cannot be escalated (issue 10, item 4): every known way for the app
 * role to become another role — over HTTP (neon()) and over the WebSocket tunnel (the driver's
 * Client, and raw protocol messages such as FunctionCall) — either fails or is undone, and the
 * next request and the next connection still run as fisioflow_app with its original attributes.
 * On PGlite the one session's authenticated user is the superuser, so the endpoint's own checks
 * stand between the app role and it; on PostgreSQL the app role logs in as itself, so most
 * attempts fail in the server too. (neon-escalation-closed.test.ts: what happens when SQL gets
 * past those checks.)
 */
import { Client, NeonDbError, neon } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  cstring,
  decodeError,
  decodeSegments,
  message,
  type PgErrorFields,
  queryMessage,
  startupMessage,
} from "../../dev/neon/protocol";
import { testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();

const APP = "fisioflow_app";
/** Who a request runs as, and the role's superuser bit. */
const WHO =
  "SELECT current_user AS u, session_user AS s, rolsuper AS su FROM pg_roles WHERE rolname = current_user";
const ORIGINAL = { u: APP, s: APP, su: false };

/** Single statements (HTTP runs one statement per query), each an attempt to leave the app role. */
const attempts: [string, string][] = [
  ["SET without a space", `SET"role"='postgres'`],
  ["RESET without a space", `RESET"role"`],
  [
    "a /* inside a dollar quote hiding set_config",
    `SELECT $q$/*$q$ AS a, set_config('role', 'postgres', false) AS b, '*/' AS c`,
  ],
  ["SET ROLE", "SET ROLE postgres"],
  ["SET SESSION ROLE", "SET SESSION ROLE postgres"],
  ["SET SESSION AUTHORIZATION", "SET SESSION AUTHORIZATION postgres"],
  ["SET session_authorization without a space", `SET"session_authorization"='postgres'`],
  ["RESET SESSION AUTHORIZATION", "RESET SESSION AUTHORIZATION"],
  ["DO with dynamic SET ROLE", "DO $$ BEGIN EXECUTE 'SET ROLE postgres'; END $$"],
  // No statement check can see this one: PostgreSQL itself must refuse it.
  [
    "DO with SET ROLE assembled at run time",
    "DO $$ BEGIN EXECUTE format('SET %s postgres', 'RO' || 'LE'); END $$",
  ],
  [
    "DO with dynamic SET SESSION AUTHORIZATION",
    "DO $$ BEGIN EXECUTE 'SET SESSION AUTHORIZATION postgres'; END $$",
  ],
  ["UPDATE pg_settings (role)", "UPDATE pg_settings SET setting = 'postgres' WHERE name = 'role'"],
  [
    "UPDATE pg_settings (session_authorization)",
    "UPDATE pg_settings SET setting = 'postgres' WHERE name = 'session_authorization'",
  ],
  ["set_config('role')", "SELECT set_config('role', 'postgres', false)"],
  [
    "set_config('role') in a CTE",
    "WITH x AS (SELECT set_config('role', 'postgres', false) AS r) SELECT r FROM x",
  ],
  ["set_config('role') in a subquery", "SELECT (SELECT set_config('role', 'postgres', false)) AS r"],
  ["set_config('session_authorization')", "SELECT set_config('session_authorization', 'postgres', false)"],
  ["set_config with a computed name", "SELECT set_config(concat('ro', 'le'), 'postgres', false)"],
  ["DISCARD ALL", "DISCARD ALL"],
];

/** Simple-protocol only (several statements in one Query message). */
const wsOnly: [string, string][] = [
  ["a /* inside a dollar quote hiding SET ROLE", "SELECT $x$ /* $x$; SET ROLE postgres; SELECT '*/'"],
  [
    "a /* inside a dollar quote hiding SET SESSION AUTHORIZATION",
    "SELECT $x$ /* $x$; SET SESSION AUTHORIZATION postgres; SELECT '*/'",
  ],
];

/** FunctionCall ('F'): function oid, all arguments and the result in text format. */
function functionCall(oid: number, args: string[]): Buffer {
  const int = (n: number, bytes: 2 | 4) => {
    const b = Buffer.alloc(bytes);
    if (bytes === 2) b.writeInt16BE(n);
    else b.writeInt32BE(n);
    return b;
  };
  const parts = [int(oid, 4), int(0, 2), int(args.length, 2)];
  for (const a of args) parts.push(int(Buffer.byteLength(a), 4), Buffer.from(a));
  parts.push(int(0, 2));
  return message("F", Buffer.concat(parts));
}

/** The wire protocol by hand over the endpoint's WebSocket, for messages the driver never sends. */
class RawSession {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private closed = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      this.buf = Buffer.concat([this.buf, data]);
      this.wake?.();
    });
    ws.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async open(wsProxy: string, user: string, url: string): Promise<RawSession> {
    const u = new URL(url);
    const ws = new WebSocket(`ws://${wsProxy}`);
    ws.binaryType = "nodebuffer";
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const s = new RawSession(ws);
    ws.send(startupMessage({ user, database: u.pathname.slice(1) }));
    const [auth] = await s.messages(1);
    if (auth?.[0] !== 0x52 || auth.readInt32BE(5) !== 3) throw new Error("expected a password request");
    const reply = await s.send(message("p", cstring(decodeURIComponent(u.password))));
    if (reply.error) throw new Error(reply.error.message);
    return s;
  }

  /** The next `n` backend messages (fewer if the connection closes). */
  private async messages(n: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    while (out.length < n) {
      if (this.buf.length >= 5 && this.buf.length >= 1 + this.buf.readInt32BE(1)) {
        const len = 1 + this.buf.readInt32BE(1);
        out.push(this.buf.subarray(0, len));
        this.buf = this.buf.subarray(len);
        continue;
      }
      if (this.closed) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
    return out;
  }

  /** Sends `bytes` and reads up to ReadyForQuery: the message types, the first error, all bytes. */
  async send(bytes: Buffer): Promise<{ types: string[]; error: PgErrorFields | null; raw: Buffer }> {
    this.ws.send(bytes);
    const got: Buffer[] = [];
    for (;;) {
      const [m] = await this.messages(1);
      if (!m) break;
      got.push(m);
      if (m[0] === 0x5a) break;
    }
    const error = got.find((m) => m[0] === 0x45);
    return {
      types: got.map((m) => String.fromCharCode(m[0]!)),
      error: error ? decodeError(error, 5, error.length) : null,
      raw: Buffer.concat(got),
    };
  }

  /** A simple Query's rows (text), or throws its error. */
  async query(sql: string): Promise<(string | null)[][]> {
    const reply = await this.send(queryMessage(sql));
    if (reply.error) throw new Error(reply.error.message);
    return decodeSegments(reply.raw)[0]?.results.at(-1)?.rows ?? [];
  }

  close(): void {
    this.ws.close();
  }
}

/** set_config's OID, asked so that the statement check does not take the query for a call. */
const SET_CONFIG_OID = "SELECT ('pg_catalog.set_' || 'config(text,text,boolean)')::regprocedure::oid::int";

function settle<T>(p: Promise<T>): Promise<T | Error> {
  return p.then(
    (v) => v,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
}

for (const { name, skip } of backends) {
  describe.skipIf(skip)(`no escape from the app role on ${name}`, () => {
    let t: TestEndpoint;
    let app: ReturnType<typeof neon>;

    beforeAll(async () => {
      t = await startTestEndpoint(name, { prefix: "neon_esc" });
      app = neon(t.appUrl);
    });
    afterAll(async () => {
      await t?.close();
    });

    /** The next HTTP request and a new WebSocket connection both run as the app role, unchanged. */
    async function stillTheAppRole(label: string) {
      expect(await app.query(WHO), `${label}: next HTTP request`).toEqual([ORIGINAL]);
      const c = new Client(t.appUrl);
      await c.connect();
      try {
        expect((await c.query(WHO)).rows, `${label}: new WebSocket connection`).toEqual([ORIGINAL]);
      } finally {
        await c.end();
      }
    }

    for (const [label, attempt] of attempts) {
      it(`over HTTP: ${label}`, async () => {
        // In a batch, followed by what an escaped client would do at once.
        const asWho = await settle(app.transaction([app.query(attempt), app.query(WHO)]));
        if (asWho instanceof Error) expect(asWho, label).toBeInstanceOf(NeonDbError);
        else expect((asWho as unknown[][])[1], label).toEqual([ORIGINAL]);
        const alter = await settle(
          app.transaction([app.query(attempt), app.query(`ALTER ROLE ${APP} SUPERUSER`)]),
        );
        expect(alter, label).toBeInstanceOf(NeonDbError);
        // Alone, as a single query: whatever it did must not reach the next request.
        await settle(app.query(attempt));
        await stillTheAppRole(label);
      });
    }

    for (const [label, attempt] of [...attempts, ...wsOnly]) {
      it(`over WebSocket: ${label}`, async () => {
        const c = new Client(t.appUrl);
        c.on("error", () => {});
        await c.connect();
        try {
          await settle(c.query(attempt));
          // The same session is still the app role (or the endpoint closed it).
          const who = await settle(c.query(WHO));
          if (!(who instanceof Error)) expect(who.rows, label).toEqual([ORIGINAL]);
          const alter = await settle(c.query(`ALTER ROLE ${APP} SUPERUSER`));
          expect(alter, label).toBeInstanceOf(Error);
        } finally {
          await c.end().catch(() => {});
        }
        await stillTheAppRole(label);
      });
    }

    it("over WebSocket: a FunctionCall ('F') message for set_config is refused", async () => {
      const raw = await RawSession.open(t.endpoint.wsProxy, APP, t.appUrl);
      try {
        const oid = Number((await raw.query(SET_CONFIG_OID))[0]![0]);
        for (const guc of ["role", "session_authorization"]) {
          const reply = await raw.send(functionCall(oid, [guc, "postgres", "false"]));
          expect(reply.types, guc).not.toContain("V"); // no FunctionCallResponse: it did not run
          expect(reply.types, guc).toContain("E");
          expect(reply.error?.code, guc).toBe("0A000");
          expect(await raw.query("SELECT current_user, session_user"), guc).toEqual([[APP, APP]]);
        }
      } finally {
        raw.close();
      }
      await stillTheAppRole("FunctionCall");
    });

    it("over WebSocket: a FunctionCall inside a transaction is refused too, and the session goes on", async () => {
      const raw = await RawSession.open(t.endpoint.wsProxy, APP, t.appUrl);
      try {
        const oid = Number((await raw.query(SET_CONFIG_OID))[0]![0]);
        await raw.query("BEGIN");
        const reply = await raw.send(functionCall(oid, ["role", "postgres", "true"]));
        expect(reply.types).not.toContain("V");
        expect(reply.error?.code).toBe("0A000");
        await raw.query("ROLLBACK");
        expect(await raw.query("SELECT current_user, session_user")).toEqual([[APP, APP]]);
      } finally {
        raw.close();
      }
    });
  });
}
