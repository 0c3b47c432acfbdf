/**
 * PostgreSQL backend. The endpoint provisions roles and the database with the superuser URL once,
 * then talks to the server only AS THE CLIENT'S ROLE (trust auth on the backend; the endpoint has
 * already checked the password), so Row Level Security applies exactly as on Neon.
 *
 * HTTP traffic goes through raw wire-protocol sockets pooled per role: the request's messages are
 * written as one buffer and the output is returned as bytes (no typed client in between, no
 * per-row objects, no extra round trips). Like Neon's sql-over-http (which resets a pooled
 * connection's session before reuse since neondatabase/neon#12681), no session state survives a
 * request: every request's write ends with the identity check (identity-check.ts) and a
 * simple-protocol DISCARD ALL (RESET ALL, DEALLOCATE ALL, CLOSE ALL, UNLISTEN *, advisory unlocks,
 * temp tables, ...) whose replies are consumed here. A request that leaves a transaction open (a
 * lone BEGIN) makes that DISCARD fail; the connection is then rolled back, checked and discarded
 * in one more round trip. A connection that fails its check is dropped and the request answered
 * with the check's error. A COPY FROM STDIN fails at once (see HTTP_COPY_FAIL), and a request
 * running longer than requestTimeoutMs is cancelled and its socket destroyed, so no request can
 * hold a pooled connection forever.
 *
 * WebSocket sessions get a connection of their own, also as the client's role, bridged message by
 * message (CheckedBridge): the identity check runs after the startup and after every unit of work
 * that leaves the session idle, and FunctionCall messages are refused, as on PGlite.
 */
import net from "node:net";
import pg from "pg";
import {
  type Backend,
  BackendRequestError,
  DEFAULT_REQUEST_TIMEOUT_MS,
  ownerRole,
  requestTimeoutError,
  type Session,
  type SessionIO,
} from "./backend";
import { type CheckReply, checkQuery, fingerprintSql, IdentityGuard, replyOfQuery } from "./identity-check";
import {
  cancelRequest,
  completeMessages,
  decodeSegments,
  errorResponse,
  findKeyData,
  queryMessage,
  quoteIdent,
  ReadyCounter,
  startupMessage,
  TERMINATE,
} from "./protocol";
import { FUNCTION_CALL_REFUSAL, guardReadOnly } from "./role-guard";

/** Appended to every HTTP request's write (after the identity check): resets the session before reuse. */
const DISCARD_ALL = queryMessage("DISCARD ALL");
const ROLLBACK = queryMessage("ROLLBACK");

interface Target {
  host: string;
  port: number;
}

function connectSocket(target: Target): net.Socket {
  // A host starting with "/" is a Unix socket directory, as in libpq.
  const socket = target.host.startsWith("/")
    ? net.connect({ path: `${target.host}/.s.PGSQL.${target.port}` })
    : net.connect({ host: target.host, port: target.port });
  socket.setNoDelay(true);
  return socket;
}

/** Reads the first backend message after a StartupMessage; rejects unless it is AuthenticationOk. */
function checkAuthOk(first: Buffer): string | null {
  if (first[0] === 0x52 && first.readInt32BE(5) === 0) return null;
  if (first[0] === 0x52)
    return "the backend asked for a password: configure trust auth for the endpoint's roles";
  if (first[0] === 0x45) {
    const m = first.indexOf("M", 5, "latin1");
    return m > 0 ? first.toString("utf8", m + 1, first.indexOf(0, m)) : "backend refused the connection";
  }
  return "unexpected backend reply to startup";
}

/** One raw connection used for HTTP requests, one request at a time. */
class RawConnection {
  private socket: net.Socket;
  private chunks: Buffer[] = [];
  private counter = new ReadyCounter();
  private target = 0;
  private resolve: ((b: Buffer) => void) | null = null;
  private reject: ((e: Error) => void) | null = null;
  private key: { pid: number; secret: number } | null = null;
  dead = false;
  lastUsed = Date.now();
  /** When the running exchange started (0 when idle): the pool's sweeper times it out. */
  busySince = 0;

  private constructor(
    socket: net.Socket,
    private readonly where: Target,
  ) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => this.fail(new Error("backend connection closed")));
  }

  private fail(err: Error): void {
    this.dead = true;
    this.busySince = 0;
    const reject = this.reject;
    this.resolve = this.reject = null;
    reject?.(err);
  }

  static open(target: Target, user: string, database: string, readOnly = false): Promise<RawConnection> {
    const conn = new RawConnection(connectSocket(target), target);
    return new Promise((resolve, reject) => {
      conn.resolve = (buf) => {
        const problem = checkAuthOk(buf);
        if (problem) {
          conn.destroy();
          reject(new Error(problem));
        } else {
          conn.key = findKeyData(buf);
          resolve(conn);
        }
      };
      conn.reject = reject;
      conn.target = 1;
      conn.socket.write(
        startupMessage({
          user,
          database,
          client_encoding: "UTF8",
          ...(readOnly ? { default_transaction_read_only: "on" } : {}),
        }),
      );
    });
  }

  private onData(chunk: Buffer): void {
    if (!this.resolve) return; // async notices while idle: nobody asked for them
    this.chunks.push(chunk);
    this.counter.feed(chunk);
    if (this.counter.copyBoth) {
      // Only replication connections enter CopyBoth; nothing here can finish it.
      this.fail(new Error("backend entered COPY BOTH mode"));
      this.destroy(true);
      return;
    }
    // An ErrorResponse during startup ends the connection without ReadyForQuery.
    if (this.counter.seen >= this.target || (this.target === 1 && chunk[0] === 0x45)) {
      const out = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [];
      const resolve = this.resolve;
      this.resolve = this.reject = null;
      this.busySince = 0;
      resolve(out);
    }
  }

  /** Writes `messages` and resolves with the output up to the `syncs`-th ReadyForQuery. */
  private exchange(messages: Buffer, syncs: number, mark = 0): Promise<Buffer> {
    if (this.dead) return Promise.reject(new Error("backend connection closed"));
    return new Promise((resolve, reject) => {
      this.counter.reset();
      this.counter.mark = mark;
      this.resolve = resolve;
      this.reject = reject;
      this.target = syncs;
      this.busySince = Date.now();
      this.socket.write(messages);
    });
  }

  /**
   * Runs a request (holding `syncs` Syncs/Queries) followed, in the same write, by `check` (the
   * identity check) and DISCARD ALL; returns the request's output and the check's reply. If the
   * session could not be reset (the request left a transaction open), rolls back, checks and
   * resets it again; if that fails too, the connection is dropped.
   */
  async exec(messages: Buffer, syncs: number, check: Buffer): Promise<{ out: Buffer; checked: CheckReply }> {
    const out = await this.exchange(Buffer.concat([messages, check, DISCARD_ALL]), syncs + 2, syncs);
    const end = this.counter.markEnd;
    if (end < 0) throw new Error("unexpected backend reply");
    let tail = decodeSegments(out.subarray(end));
    if (this.counter.lastStatus !== 0x49 || tail.some((seg) => seg.error)) {
      const again = await this.exchange(Buffer.concat([ROLLBACK, check, DISCARD_ALL]), 3, 1);
      tail = decodeSegments(again.subarray(this.counter.markEnd));
      if (this.counter.lastStatus !== 0x49 || tail.some((seg) => seg.error)) this.destroy(true);
    }
    return { out: out.subarray(0, end), checked: replyOfQuery(tail[0]) };
  }

  /** The exchange took too long: cancel the backend's query and drop the socket. */
  timeout(ms: number): void {
    if (this.key) {
      const s = connectSocket(this.where);
      s.on("error", () => {});
      s.end(cancelRequest(this.key.pid, this.key.secret));
    }
    this.fail(requestTimeoutError(ms));
    this.destroy(true);
  }

  destroy(now = false): void {
    this.dead = true;
    if (this.socket.destroyed) return;
    if (now) this.socket.destroy();
    else this.socket.end(TERMINATE);
  }
}

/** Per-role pool of raw connections with a FIFO wait queue. */
class RawPool {
  private idle: RawConnection[] = [];
  private waiters: ((c: RawConnection | Error) => void)[] = [];
  private size = 0;
  /** Connections running a request, for the timeout sweeper. */
  readonly busy = new Set<RawConnection>();

  constructor(
    private readonly target: Target,
    private readonly user: string,
    private readonly database: string,
    private readonly max: number,
    private readonly guard: IdentityGuard,
    private readonly readOnly = false,
  ) {}

  /** A live idle connection, if any (dead ones found on the way give back their slots). */
  private takeIdle(): RawConnection | undefined {
    while (this.idle.length) {
      const c = this.idle.pop()!;
      if (!c.dead) return c;
      this.size--;
    }
    return undefined;
  }

  async acquire(): Promise<RawConnection> {
    const idle = this.takeIdle();
    if (idle) return idle;
    if (this.size < this.max) {
      this.size++;
      try {
        return await RawConnection.open(this.target, this.user, this.database, this.readOnly);
      } catch (err) {
        this.size--;
        throw err;
      }
    }
    const got = await new Promise<RawConnection | Error>((resolve) => this.waiters.push(resolve));
    if (got instanceof Error) throw got;
    return got;
  }

  release(c: RawConnection): void {
    if (c.dead) {
      this.size--;
      // Let a waiter open a fresh connection in the freed slot.
      const waiter = this.waiters.shift();
      if (waiter) {
        this.size++;
        RawConnection.open(this.target, this.user, this.database, this.readOnly).then(
          waiter,
          (err: Error) => {
            this.size--;
            waiter(err);
          },
        );
      }
      return;
    }
    c.lastUsed = Date.now();
    const waiter = this.waiters.shift();
    if (waiter) waiter(c);
    else this.idle.push(c);
  }

  run(messages: Buffer, syncs: number): Promise<Buffer> {
    // Most requests find an idle connection: skip acquire()'s extra promise for them.
    const idle = this.takeIdle();
    if (idle) return this.runOn(idle, messages, syncs);
    return this.acquire().then((c) => this.runOn(c, messages, syncs));
  }

  private async runOn(c: RawConnection, messages: Buffer, syncs: number): Promise<Buffer> {
    this.busy.add(c);
    try {
      const { out, checked } = await c.exec(messages, syncs, this.guard.check(this.user));
      const problem = this.guard.verify(this.user, checked);
      if (problem) {
        c.destroy(true); // closing the connection ends whatever it held
        throw new BackendRequestError(this.guard.failure(problem));
      }
      return out;
    } finally {
      this.busy.delete(c);
      this.release(c);
    }
  }

  /** Times out connections busy for more than `ms`. */
  sweep(now: number, ms: number): void {
    for (const c of this.busy) if (c.busySince && now - c.busySince > ms) c.timeout(ms);
  }

  close(): void {
    for (const c of this.idle) c.destroy();
    this.idle = [];
    for (const w of this.waiters) w(new Error("endpoint closed"));
    this.waiters = [];
  }
}

export interface PostgresBackendOptions {
  postgresUrl: string;
  database: string;
  roles: Record<string, string>;
  poolSize: number;
  /** An HTTP request's backend work is cancelled after this long (default 5 min). */
  requestTimeoutMs?: number;
  log: (line: string) => void;
}

function isDuplicate(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  // 42710 duplicate_object, 42P04 duplicate_database; 23505 and XX000 ("tuple concurrently
  // updated") when two provisioners race.
  return code === "42710" || code === "42P04" || code === "23505" || code === "XX000";
}

/**
 * Creates the roles and the database if missing, and returns each role's attributes and
 * memberships once provisioned (the identity check's baseline). Idempotent and safe to run
 * concurrently: whatever another start changes, this one has changed already.
 */
async function provision(opts: PostgresBackendOptions): Promise<Map<string, string>> {
  const baseline = new Map<string, string>();
  const admin = new pg.Client({ connectionString: opts.postgresUrl });
  await admin.connect();
  try {
    const adminUser = (await admin.query<{ u: string }>("select current_user as u")).rows[0]!.u;
    for (const role of Object.keys(opts.roles)) {
      if (role === adminUser) continue; // never demote the superuser we are using
      const exists = await admin.query("select 1 from pg_roles where rolname = $1", [role]);
      const attrs = "LOGIN NOSUPERUSER NOBYPASSRLS";
      try {
        if (exists.rowCount) await admin.query(`ALTER ROLE ${quoteIdent(role)} ${attrs}`);
        else await admin.query(`CREATE ROLE ${quoteIdent(role)} ${attrs}`);
      } catch (err) {
        if (!isDuplicate(err)) throw err;
      }
    }
    const owner = ownerRole(opts.roles);
    const dbExists = await admin.query("select 1 from pg_database where datname = $1", [opts.database]);
    if (!dbExists.rowCount) {
      try {
        await admin.query(
          `CREATE DATABASE ${quoteIdent(opts.database)}${owner ? ` OWNER ${quoteIdent(owner)}` : ""}`,
        );
        opts.log(`neon endpoint: created database ${opts.database}`);
      } catch (err) {
        if (!isDuplicate(err)) throw err;
      }
    }
    if (owner) {
      // Neon's owner roles can read every statement's statistics (neon_superuser is in pg_read_all_stats).
      await admin.query(`GRANT pg_read_all_stats TO ${quoteIdent(owner)}`).catch(() => {});
    }
  } finally {
    await admin.end();
  }
  // pg_stat_statements is not a trusted extension, so a non-superuser owner cannot create it; Neon
  // lets its owner roles do so. Create it up front as the superuser so the migration's
  // CREATE EXTENSION IF NOT EXISTS succeeds.
  const url = new URL(opts.postgresUrl);
  url.pathname = `/${encodeURIComponent(opts.database)}`;
  const inDb = new pg.Client({ connectionString: url.toString() });
  await inDb.connect();
  try {
    await inDb.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").catch((err: Error) => {
      if (!isDuplicate(err)) opts.log(`neon endpoint: pg_stat_statements unavailable: ${err.message}`);
    });
    // In the database itself: its owner is a member of pg_database_owner there only.
    for (const role of Object.keys(opts.roles)) {
      const r = await inDb.query<{ f: string }>(`SELECT ${fingerprintSql(role)} AS f`);
      baseline.set(role, r.rows[0]!.f);
    }
  } finally {
    await inDb.end();
  }
  return baseline;
}

/** The PostgreSQL backend, with what the local Neon API needs to restore its database. */
export interface PostgresBackend extends Backend {
  readonly kind: "postgres";
  /** The database it serves. */
  readonly database: string;
  /**
   * Drops every connection it holds to its database, pooled and in sessions (a Neon compute
   * restart): the database can then be renamed or dropped. Later requests connect again.
   */
  disconnect(): Promise<void>;
}

export async function startPostgresBackend(opts: PostgresBackendOptions): Promise<PostgresBackend> {
  const guard = new IdentityGuard(await provision(opts), checkQuery, false, opts.log);
  const url = new URL(opts.postgresUrl);
  const target: Target = {
    host: decodeURIComponent(url.hostname || url.searchParams.get("host") || "127.0.0.1"),
    port: Number(url.port || 5432),
  };
  /** Pools per role, read-write and read-only (a read replica's view). */
  const pools = new Map<string, RawPool>();
  const sessions = new Set<CheckedBridge>();
  const timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // One sweeper instead of a timer per request.
  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const p of pools.values()) p.sweep(now, timeoutMs);
    },
    Math.min(1000, Math.max(10, timeoutMs / 4)),
  );
  sweeper.unref();
  guard.onStop(() => {
    for (const s of sessions) s.refuse(guard.refusal().message);
    for (const p of pools.values()) p.close();
  });

  function pool(role: string, readOnly: boolean): RawPool {
    const key = `${readOnly ? "ro" : "rw"}:${role}`;
    let p = pools.get(key);
    if (!p) {
      p = new RawPool(target, role, opts.database, opts.poolSize, guard, readOnly);
      pools.set(key, p);
    }
    return p;
  }

  const view = (readOnly: boolean): Backend => ({
    kind: "postgres",
    guard,
    run(role, messages, syncs) {
      if (guard.stopped) return Promise.reject(new BackendRequestError(guard.refusal()));
      return pool(role, readOnly).run(readOnly ? guardReadOnly(messages) : messages, syncs);
    },

    openSession(role, database, startupParams, io: SessionIO): Session {
      const bridge = new CheckedBridge(
        connectSocket(target),
        role,
        guard,
        io,
        opts.log,
        () => sessions.delete(bridge),
        readOnly,
      );
      sessions.add(bridge);
      if (readOnly && Object.entries(startupParams).some(([k, v]) => /read_only/i.test(`${k} ${v}`))) {
        bridge.refuse("cannot set transaction read-write mode during recovery", "25006");
        return bridge;
      }
      // The client's own parameters (application_name, options, ...) go through; user and
      // database are the checked ones.
      bridge.start(
        startupMessage({
          ...startupParams,
          user: role,
          database,
          ...(readOnly ? { default_transaction_read_only: "on" } : {}),
        }),
      );
      return bridge;
    },

    cancel(pid, secret) {
      // PostgreSQL checks the secret; the client got this key from the server itself.
      const s = connectSocket(target);
      s.on("error", () => s.destroy());
      s.end(cancelRequest(pid, secret));
    },

    readOnlyView: () => view(true),

    async close() {
      if (readOnly) return; // a view: the backend itself is closed by its owner
      clearInterval(sweeper);
      for (const p of pools.values()) p.close();
      for (const s of sessions) s.destroy();
    },
  });

  return {
    ...(view(false) as Backend & { kind: "postgres" }),
    database: opts.database,
    async disconnect() {
      for (const s of sessions) s.refuse("terminating connection due to administrator command", "57P01");
      for (const p of [...pools.values()]) p.close();
      pools.clear();
    },
  };
}

/**
 * A WebSocket session's own connection to the server, as the client's role, relayed message by
 * message so the identity check can run on it. After the startup and after every unit of work
 * that leaves the session idle — every Sync, Query and FunctionCall sent has its ReadyForQuery
 * back, with status 'I', and no extended-protocol sequence is half sent — the bridge sends CHECK,
 * holds the client's next messages until its reply is in, and keeps that reply from the client
 * (but for notifications). A session that fails is told why (FATAL) and closed; closing the
 * connection rolls back whatever it held. The client's output is relayed as it streams: on
 * PostgreSQL the server itself decides what a role may do, and the check keeps a changed session
 * from being used any further. FunctionCall messages are replaced by FUNCTION_CALL_REFUSAL.
 */
class CheckedBridge implements Session {
  private authed = false;
  private head: Buffer = Buffer.alloc(0);
  /** Client bytes not yet relayed: an incomplete message, or all of them while a check runs. */
  private inbox: Buffer = Buffer.alloc(0);
  /** ReadyForQuery messages the server owes for what was relayed (the startup's counts). */
  private sent = 1;
  /** Counts the relayed server output's ReadyForQuery messages. */
  private readonly counter = new ReadyCounter();
  /** counter.seen when the last check started: a unit of work ended since when it is below. */
  private checkedAt = 0;
  /** A Parse/Bind/Execute/... went out without its Sync yet. */
  private midUnit = false;
  private checking = false;
  private readonly checkCounter = new ReadyCounter();
  private checkReply: Buffer[] = [];
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly role: string,
    private readonly guard: IdentityGuard,
    private readonly io: SessionIO,
    private readonly log: (line: string) => void,
    private readonly onGone: () => void,
    private readonly readOnly = false,
  ) {
    socket.on("data", (chunk: Buffer) => this.fromServer(chunk));
    socket.on("error", () => this.destroy());
    socket.on("close", () => this.destroy());
  }

  start(startup: Buffer): void {
    this.socket.write(startup);
  }

  write(data: Buffer): void {
    this.inbox = this.inbox.length ? Buffer.concat([this.inbox, data]) : data;
    this.relayClient();
  }

  end(): void {
    if (!this.socket.destroyed) this.socket.end(TERMINATE);
  }

  /** Tells the client why (FATAL) and closes. */
  refuse(message: string, code = "57P03"): void {
    if (this.closed) return;
    this.io.send(errorResponse("FATAL", code, message));
    this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.io.close();
    this.onGone();
  }

  /** Relays the complete client messages in the inbox, counting units of work; refuses FunctionCall. */
  private relayClient(): void {
    // Nothing goes through before the check after the startup has passed.
    if (!this.authed || this.checking || this.checkedAt === 0 || this.closed) return;
    const { starts, end } = completeMessages(this.inbox);
    if (!starts.length) return;
    let out = this.inbox.subarray(0, end);
    this.inbox = this.inbox.subarray(end);
    let parts: Buffer[] | null = null;
    let copied = 0;
    for (const at of starts) {
      const type = out[at]!;
      if (type === 0x53 || type === 0x51 || type === 0x46) {
        this.sent++;
        this.midUnit = false;
      } else if (type !== 0x58 && type !== 0x64 && type !== 0x63 && type !== 0x66) {
        // Anything but Terminate and COPY data/done/fail is part of an extended-protocol sequence.
        this.midUnit = true;
      }
      if (type === 0x46) {
        parts ??= [];
        parts.push(out.subarray(copied, at), FUNCTION_CALL_REFUSAL);
        copied = at + 1 + out.readInt32BE(at + 1);
      }
    }
    if (parts) {
      parts.push(out.subarray(copied));
      out = Buffer.concat(parts);
    }
    this.socket.write(this.readOnly ? guardReadOnly(out) : out);
  }

  private fromServer(chunk: Buffer): void {
    if (this.closed) return;
    if (!this.authed) {
      // Check the server accepted the role before passing anything through.
      this.head = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
      if (this.head.length < 5 || this.head.length < 1 + this.head.readInt32BE(1)) return;
      const problem = checkAuthOk(this.head);
      if (problem) {
        this.refuse(problem, "08006");
        return;
      }
      this.authed = true;
      chunk = this.head;
      this.head = Buffer.alloc(0);
    }
    if (this.checking) {
      this.collectCheck(chunk);
      return;
    }
    this.counter.feed(chunk);
    this.io.send(chunk);
    if (
      this.counter.seen === this.sent &&
      this.counter.seen > this.checkedAt &&
      this.counter.lastStatus === 0x49 &&
      !this.midUnit
    ) {
      this.checking = true;
      this.checkedAt = this.counter.seen;
      this.checkCounter.reset();
      this.checkCounter.mark = 1;
      this.checkReply = [];
      this.socket.write(this.guard.check(this.role));
    }
  }

  private collectCheck(chunk: Buffer): void {
    this.checkReply.push(chunk);
    this.checkCounter.feed(chunk);
    if (this.checkCounter.seen < 1) return;
    const all = Buffer.concat(this.checkReply);
    const reply = all.subarray(0, this.checkCounter.markEnd);
    const after = all.subarray(this.checkCounter.markEnd);
    this.checking = false;
    const problem = this.guard.verify(this.role, replyOfQuery(decodeSegments(reply)[0]));
    if (problem) {
      this.log(`neon endpoint: closing a session of ${this.role}: ${problem}`);
      this.refuse(this.guard.failure(problem).message, "42501");
      return;
    }
    const notifications = asyncMessages(reply);
    if (notifications.length) this.io.send(notifications);
    if (after.length) this.fromServer(after);
    this.relayClient();
  }
}

/** The NotificationResponse messages in `buf`: they belong to the client even inside a check's reply. */
function asyncMessages(buf: Buffer): Buffer {
  const keep: Buffer[] = [];
  const { starts } = completeMessages(buf);
  for (const at of starts)
    if (buf[at] === 0x41) keep.push(buf.subarray(at, at + 1 + buf.readInt32BE(at + 1)));
  return Buffer.concat(keep);
}
