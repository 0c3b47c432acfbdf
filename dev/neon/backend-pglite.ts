/**
 * Embedded PGlite backend: one in-process Postgres (18) session shared by every client.
 *
 * Isolation model, and its limits (a local-development stand-in, not a server):
 * - All client work is serialized through one FIFO mutex. An HTTP request holds it for its query
 *   or batch; a WebSocket session holds it from its first message until it is idle again
 *   (ReadyForQuery 'I' after a Sync/Query), so an open transaction blocks everyone else — a second
 *   concurrent transaction waits instead of running in parallel as on Postgres.
 * - Every unit of work starts with SET SESSION AUTHORIZATION <client role>, so current_user,
 *   session_user, privileges and Row Level Security are the client's, and PostgreSQL itself
 *   refuses SET ROLE to any other role. The session's authenticated user stays the PGlite
 *   superuser (PGlite cannot log in as anyone else), so setting session_authorization back is
 *   possible: statements that would (SET SESSION AUTHORIZATION, set_config(..), DISCARD ALL, ...)
 *   and FunctionCall messages are refused by role-guard.ts, and after every unit of work the
 *   identity check (identity-check.ts) verifies the session is still the client's role with the
 *   role's attributes at start — if not, the endpoint stops serving: SQL built at run time (EXECUTE
 *   in a DO block) can get past the statement check, and while it ran as the superuser it could
 *   have changed anything.
 * - Every HTTP request ends with the identity check and a reset of what a session can hold: SETs,
 *   prepared statements, WITH HOLD cursors, LISTENs, session advisory locks, temp tables,
 *   sequence state (DISCARD ALL without DISCARD PLANS, whose only effect is re-planning). As there
 *   is one session, this also drops such state of an open WebSocket session (whose own state is
 *   otherwise visible to other clients until it ends; it runs DISCARD ALL then). A COPY FROM STDIN
 *   over HTTP fails at once (57014), as on postgres; a running query cannot be interrupted
 *   (requestTimeoutMs only bounds the wait for the shared session).
 * - current_database() is the configured database (it is created inside PGlite and opened by
 *   name).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { btree_gist } from "@electric-sql/pglite/contrib/btree_gist";
import { pg_stat_statements } from "@electric-sql/pglite/contrib/pg_stat_statements";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { unaccent } from "@electric-sql/pglite/contrib/unaccent";
import { LOCAL } from "../config";
import {
  type Backend,
  BackendRequestError,
  DEFAULT_REQUEST_TIMEOUT_MS,
  ownerRole,
  requestTimeoutError,
  type Session,
  type SessionIO,
} from "./backend";
import {
  fingerprintSql,
  IDENTITY_FUNCTION,
  IDENTITY_FUNCTION_SIGNATURE,
  IdentityGuard,
} from "./identity-check";
import { Mutex } from "./mutex";
import { PgliteCopyIn, withoutCopyIn } from "./pglite-copy";
import {
  authenticationRequest,
  backendKeyData,
  completeMessages,
  decodeFunctionResult,
  decodeSegments,
  errorResponse,
  functionCall,
  hasError,
  parameterStatus,
  queryMessage,
  quoteIdent,
  quoteLiteral,
  readyForQuery,
  SYNC,
} from "./protocol";
import { guardReadOnly, guardRoleChanges } from "./role-guard";

const extensions = { pg_trgm, pg_stat_statements, btree_gist, unaccent };

export interface PgliteBackendOptions {
  dataDir: string;
  database: string;
  roles: Record<string, string>;
  /** How long an HTTP request may wait for the shared session (default 5 min). */
  requestTimeoutMs?: number;
  /** Start from these files (a dumpDataDir tarball: a branch's copy of its parent) instead of initdb. */
  loadDataDir?: Blob;
  log: (line: string) => void;
}

/** The PGlite backend, with what the local Neon API needs to branch and restore it. */
export interface PgliteBackend extends Backend {
  readonly kind: "pglite";
  /** Its files as a tarball, taken between units of work (a consistent copy: one session). */
  snapshot(): Promise<Blob>;
  /**
   * Replaces its files with `data` (a restore) and returns the files it had, both under one hold
   * of the session (nothing written in between is lost). Open sessions are closed, as a Neon
   * compute restart closes them; requests queued meanwhile run on the new data.
   */
  replaceData(data: Blob): Promise<Blob>;
}

/**
 * Freshly initialised data dirs cached as tarballs in the OS temp dir, keyed by the PGlite build,
 * so in-memory endpoints (one per test file) skip initdb, the slow part of a PGlite start. Two at
 * most: the bare initdb result ("" key) and LOCAL.database created in it; other database names
 * (tests use unique ones) start from the bare template, so the cache never grows with them.
 */
function templatePath(database: string): string {
  const build = statSync(fileURLToPath(import.meta.resolve("@electric-sql/pglite"))).mtimeMs;
  const name = database ? `-${encodeURIComponent(database)}` : "";
  return join(tmpdir(), "fisioflow-pglite-templates", `${Math.round(build)}${name}.tar`);
}

function loadTemplate(database: string): Blob | null {
  try {
    return new Blob([readFileSync(templatePath(database))]);
  } catch {
    return null;
  }
}

async function saveTemplate(database: string, dump: Blob): Promise<void> {
  const path = templatePath(database);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
  renameSync(tmp, path); // atomic: concurrent test processes never read half a file
}

/** Creates PGlite from a cached template, or null when there is none (or it is unusable). */
async function fromTemplate(key: string, options: { database?: string }): Promise<PGlite | null> {
  const template = loadTemplate(key);
  if (!template) return null;
  return PGlite.create({ extensions, ...options, loadDataDir: template }).catch(() => null);
}

/** An in-memory PGlite whose current database is `database`. */
async function openMemory(database: string): Promise<PGlite> {
  const cacheable = database === LOCAL.database;
  if (cacheable) {
    const ready = await fromTemplate(database, { database });
    if (ready) return ready;
  }
  let first = await fromTemplate("", {});
  if (!first) {
    first = await PGlite.create({ extensions });
    await saveTemplate("", await first.dumpDataDir("none")).catch(() => {});
  }
  if (database === "postgres") return first;
  await first.exec(`CREATE DATABASE ${quoteIdent(database)}`);
  // An in-memory instance cannot be reopened on another database: carry its files over.
  const dump = await first.dumpDataDir("none");
  await first.close();
  if (cacheable) await saveTemplate(database, dump).catch(() => {});
  return PGlite.create({ extensions, database, loadDataDir: dump });
}

/**
 * Opens PGlite with `database` as its current database. PGlite can only open a database that
 * exists, so the first start creates it from the default one and reopens.
 */
async function openPglite(dataDir: string, database: string): Promise<PGlite> {
  if (dataDir === "memory://" || dataDir === "") return openMemory(database);
  mkdirSync(dataDir, { recursive: true });
  if (database === "postgres") return PGlite.create(dataDir, { extensions });
  if (existsSync(join(dataDir, "PG_VERSION"))) {
    try {
      return await PGlite.create(dataDir, { extensions, database });
    } catch {
      // The data dir exists but the database does not yet: create it below.
    }
  }
  const first = await PGlite.create(dataDir, { extensions });
  const exists = await first.query("select 1 from pg_database where datname = $1", [database]);
  if (!exists.rows.length) await first.exec(`CREATE DATABASE ${quoteIdent(database)}`);
  await first.close();
  return PGlite.create(dataDir, { extensions, database });
}

async function provision(db: PGlite, opts: PgliteBackendOptions): Promise<void> {
  const owner = ownerRole(opts.roles);
  const statements: string[] = [];
  for (const role of Object.keys(opts.roles)) {
    if (role === "postgres") continue;
    // As on postgres, a start puts back the attributes the endpoint hands out.
    statements.push(
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN
           CREATE ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOBYPASSRLS;
         ELSE
           ALTER ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOBYPASSRLS;
         END IF;
       END $$`,
    );
  }
  if (owner && owner !== "postgres") {
    const o = quoteIdent(owner);
    // The owner owns the database (and so schema public, via pg_database_owner), like
    // CREATE DATABASE ... OWNER on the postgres backend: migrations run as owner can create
    // schemas, tables and trusted extensions.
    statements.push(
      `ALTER DATABASE ${quoteIdent(opts.database)} OWNER TO ${o}`,
      `GRANT CREATE, CONNECT, TEMPORARY ON DATABASE ${quoteIdent(opts.database)} TO ${o}`,
      `GRANT USAGE, CREATE ON SCHEMA public TO ${o}`,
      `GRANT pg_read_all_stats TO ${o}`,
    );
  }
  // pg_stat_statements is not trusted: create it as superuser so the owner's
  // CREATE EXTENSION IF NOT EXISTS succeeds (Neon lets its owner roles create it).
  statements.push("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  for (const s of statements) await db.exec(s);
}

/** Offsets just past each ReadyForQuery message in buf. */
function readyEnds(buf: Buffer): number[] {
  const ends: number[] = [];
  let o = 0;
  while (o + 5 <= buf.length) {
    const next = o + 1 + buf.readInt32BE(o + 1);
    if (buf[o] === 0x5a) ends.push(next);
    o = next;
  }
  return ends;
}

/**
 * Makes the session the client's: session_user and current_user become `role`; a read-only
 * endpoint's unit of work (or the first unit after one) sets the transaction mode too.
 */
function becomeRole(role: string, readOnly?: boolean): Buffer {
  const mode =
    readOnly === undefined ? "" : `SET default_transaction_read_only = ${readOnly ? "on" : "off"}; `;
  return queryMessage(`${mode}SET SESSION AUTHORIZATION ${quoteIdent(role)}`);
}

/** The server settings a session is told about at startup, with fallbacks if PGlite lacks one. */
const SERVER_PARAM_DEFAULTS: Record<string, string> = {
  server_version: "18",
  server_encoding: "UTF8",
  DateStyle: "ISO, MDY",
  IntervalStyle: "postgres",
  TimeZone: "UTC",
  integer_datetimes: "on",
  standard_conforming_strings: "on",
};

/**
 * After every HTTP request: nothing of its session may outlive it. DISCARD ALL but for DISCARD
 * PLANS (re-planning everything next time would be its only effect) and SET SESSION
 * AUTHORIZATION DEFAULT (the next unit of work sets its own); unlike DISCARD ALL it also runs
 * inside a transaction block (then the ROLLBACK that follows undoes it and it is repeated).
 */
const RESET_SESSION = queryMessage(
  "CLOSE ALL; RESET ALL; DEALLOCATE ALL; UNLISTEN *; SELECT pg_catalog.pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES",
);
const ROLLBACK = queryMessage("ROLLBACK");
/** A WebSocket session's end, or a failed identity check: back to a clean session. */
const CLEANUP = Buffer.concat([SYNC, ROLLBACK, queryMessage("DISCARD ALL")]);

/** Status byte of the last ReadyForQuery in `out` (whose last message is one), e.g. 0x49 'I'. */
function lastStatus(out: Buffer): number {
  return out[out.length - 1]!;
}

/** Opens the data dir, or loads `data` into it (memory or an empty directory). */
async function openData(dataDir: string, database: string, data: Blob | undefined): Promise<PGlite> {
  if (!data) return openPglite(dataDir, database);
  if (dataDir === "memory://" || dataDir === "")
    return PGlite.create({ extensions, database, loadDataDir: data });
  mkdirSync(dataDir, { recursive: true });
  return PGlite.create(dataDir, { extensions, database, loadDataDir: data });
}

export async function startPgliteBackend(opts: PgliteBackendOptions): Promise<PgliteBackend> {
  let db = await openData(opts.dataDir, opts.database, opts.loadDataDir);
  await provision(db, opts);
  const mutex = new Mutex();
  const timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const settings = await db.query<{ name: string; setting: string }>(
    `select name, setting from pg_settings where name = any($1)`,
    [Object.keys(SERVER_PARAM_DEFAULTS)],
  );
  // Read once: the ParameterStatus messages every WebSocket session starts with.
  const serverParams = Object.entries(SERVER_PARAM_DEFAULTS).map(([name, fallback]): [string, string] => [
    name,
    settings.rows.find((r) => r.name === name)?.setting ?? fallback,
  ]);
  let identity = await installIdentityCheck(db, Object.keys(opts.roles));
  const guard = new IdentityGuard(
    identity.baseline,
    (role) => functionCall(identity.oid, [role]),
    true,
    opts.log,
  );
  let nextPid = 1000;
  const sessions = new Set<PgliteSession>();
  // Stopped: every open session is told and closed (each rolls back as it ends).
  guard.onStop(() => {
    for (const s of sessions) s.refuse();
  });

  /** Runs raw frontend bytes; the caller holds the mutex. Copies out of WASM memory. */
  async function exec(input: Buffer): Promise<Buffer> {
    const out = await db.execProtocolRaw(input);
    return Buffer.from(out);
  }

  /** A read-only endpoint's unit of work left default_transaction_read_only on. */
  let readOnlyLeft = false;

  /** Runs `SET SESSION AUTHORIZATION` + messages (+ trailer); returns what follows the switch's reply. */
  async function execAs(role: string, messages: Buffer, trailer?: Buffer, readOnly = false): Promise<Buffer> {
    const prefix = becomeRole(role, readOnly || readOnlyLeft ? readOnly : undefined);
    readOnlyLeft = readOnly;
    const out = await exec(
      trailer ? Buffer.concat([prefix, messages, trailer]) : Buffer.concat([prefix, messages]),
    );
    const ends = readyEnds(out);
    const first = decodeSegments(out.subarray(0, ends[0]))[0];
    if (!ends.length || first?.error) {
      throw new Error(`could not switch to role ${role}: ${first?.error?.message ?? "no reply"}`);
    }
    return out.subarray(ends[0]);
  }

  /** The identity check's verdict on `out` (the reply to guard.check(role)): null when all is well. */
  function verify(role: string, out: Buffer): string | null {
    return guard.verify(role, decodeFunctionResult(out));
  }

  class PgliteSession implements Session {
    private pending: Buffer = Buffer.alloc(0);
    private readonly copyIn = new PgliteCopyIn();
    private holding = false;
    private pumping = false;
    private ended = false;
    /** Its own identity check is being judged: a stop it causes is reported by the pump. */
    private verifying = false;

    /** The startup settings being applied: nothing runs before. */
    ready: Promise<void> | null = null;

    constructor(
      private readonly role: string,
      private readonly io: SessionIO,
      private readonly readOnly: boolean,
    ) {}

    get isEnded(): boolean {
      return this.ended;
    }

    /** The login failed after all: tell the client and end. */
    fail(code: string, message: string): void {
      if (this.ended) return;
      this.ended = true;
      sessions.delete(this);
      this.io.send(errorResponse("FATAL", code, message));
      this.io.close();
    }

    write(data: Buffer): void {
      this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
      void this.pump();
    }

    end(): void {
      this.ended = true;
      void this.pump();
    }

    /** The endpoint stopped: tell the client and close (the pump rolls back what is open). */
    refuse(code = "57P03", message = guard.refusal().message): void {
      if (this.ended || this.verifying) return;
      this.ended = true;
      this.io.send(errorResponse("FATAL", code, message));
      this.io.close();
      void this.pump();
    }

    private async pump(): Promise<void> {
      if (this.pumping) return;
      this.pumping = true;
      try {
        if (this.ready) await this.ready;
        while (!this.ended) {
          const { starts, end } = completeMessages(this.pending);
          if (!starts.length) break;
          // Terminate never reaches PGlite (it would end the only session): it ends ours.
          const terminateAt = starts.find((s) => this.pending[s] === 0x58);
          const limit = terminateAt ?? end;
          const input = this.pending;
          const step = this.copyIn.step(
            input,
            starts.filter((s) => s < limit),
            limit,
          );
          this.pending = this.pending.subarray(step.consumed);
          if (terminateAt !== undefined && step.consumed >= terminateAt) {
            this.ended = true;
            this.pending = Buffer.alloc(0);
          }
          if (step.reply) this.io.send(step.reply);
          if (!step.run.length) {
            if (this.ended) break;
            continue;
          }
          // A held COPY ends with its CopyDone/CopyFail but answers as the Query it is.
          const lastType = step.copy ? 0x51 : input[starts.filter((s) => s < step.consumed).at(-1)!]!;
          const batch = this.readOnly
            ? guardReadOnly(guardRoleChanges(step.run))
            : guardRoleChanges(step.run);
          let out: Buffer;
          if (this.holding) out = await exec(batch);
          else {
            await mutex.acquire();
            this.holding = true;
            if (guard.stopped) {
              this.refuse();
              break;
            }
            out = await execAs(this.role, batch, undefined, this.readOnly);
          }
          if (step.copy) out = withoutCopyIn(out);
          const ends = readyEnds(out);
          const idle = ends.length > 0 && out[ends.at(-1)! - 1] === 0x49; // 'I'
          // Sync, Query or FunctionCall answered and no transaction open: a unit of work ended.
          const unitEnded = idle && (lastType === 0x53 || lastType === 0x51 || lastType === 0x46);
          if (unitEnded) {
            // Checked before its output goes out: an escalated unit's results are withheld.
            const checked = await exec(guard.check(this.role));
            this.verifying = true;
            const problem = verify(this.role, checked);
            this.verifying = false;
            if (problem) {
              opts.log(`neon endpoint (pglite): closing a session of ${this.role}: ${problem}`);
              this.io.send(errorResponse("FATAL", "42501", guard.failure(problem).message));
              this.ended = true;
              this.io.close();
              break;
            }
          }
          if (out.length && !this.ended) this.io.send(out);
          if (unitEnded) this.releaseLock();
        }
        if (this.ended) await this.cleanup();
      } catch (err) {
        opts.log(`neon endpoint (pglite): session failed: ${(err as Error).message}`);
        this.ended = true;
        await this.cleanup().catch(() => {});
      } finally {
        this.pumping = false;
      }
    }

    private releaseLock(): void {
      if (!this.holding) return;
      this.holding = false;
      mutex.release();
    }

    /** Rolls back whatever the client left open and forgets its session state. */
    private async cleanup(): Promise<void> {
      if (!sessions.has(this)) return;
      sessions.delete(this);
      if (!this.holding) {
        await mutex.acquire();
        this.holding = true;
      }
      try {
        await exec(CLEANUP);
      } finally {
        this.releaseLock();
        this.io.close();
      }
    }
  }

  /** The backend as one endpoint serves it: read-write, or read-only (a read replica's view). */
  const view = (readOnly: boolean): Backend => ({
    kind: "pglite",
    guard,

    async run(role, messages, syncs) {
      await mutex.acquire(timeoutMs, () => requestTimeoutError(timeoutMs));
      try {
        if (guard.stopped) throw new BackendRequestError(guard.refusal());
        const check = guard.check(role);
        const guarded = readOnly ? guardReadOnly(guardRoleChanges(messages)) : guardRoleChanges(messages);
        // One call: the request, the identity check, the reset.
        const out = await execAs(role, guarded, Buffer.concat([check, RESET_SESSION]), readOnly);
        const ends = readyEnds(out);
        if (ends.length !== syncs + 2) throw new Error("unexpected PGlite reply");
        const reply = out.subarray(0, ends[syncs - 1]);
        let checked = out.subarray(ends[syncs - 1], ends[syncs]);
        // A lone "BEGIN" sent over HTTP must not leave the shared session inside a transaction:
        // the check and the reset ran inside it, so both are repeated after the rollback.
        if (lastStatus(reply) !== 0x49 || lastStatus(out) !== 0x49 || hasError(out.subarray(ends[syncs]))) {
          const again = await exec(Buffer.concat([ROLLBACK, check, RESET_SESSION]));
          const e = readyEnds(again);
          checked = again.subarray(e[0], e[1]);
          if (hasError(again.subarray(e[1]))) guard.stop("the shared PGlite session could not be reset");
        }
        const problem = verify(role, checked);
        if (problem) {
          opts.log(`neon endpoint (pglite): refused a request of ${role}: ${problem}`);
          await exec(CLEANUP);
          throw new BackendRequestError(guard.failure(problem));
        }
        return reply;
      } finally {
        mutex.release();
      }
    },

    openSession(role, _database, startupParams, io): Session {
      const session = new PgliteSession(role, io, readOnly);
      sessions.add(session);
      const settings = startupSettings(startupParams);
      if (typeof settings === "string" || (readOnly && settings.some(([k]) => /read_only/i.test(k)))) {
        if (typeof settings === "string") session.fail("42501", settings);
        else session.fail("25006", "cannot set transaction read-write mode during recovery");
        return session;
      }
      if (settings.length) {
        session.ready = applySettings(role, settings, readOnly).then(
          (problem) =>
            problem ? session.fail(problem.code, problem.message) : hello(session, role, startupParams, io),
          (err: Error) => session.fail("XX000", err.message),
        );
      } else hello(session, role, startupParams, io);
      return session;
    },

    readOnlyView: () => view(true),

    async close() {
      if (readOnly) return; // a view: the backend itself is closed by its owner
      // Let sessions whose sockets were just terminated roll back first (they queue on the mutex).
      await new Promise((resolve) => setTimeout(resolve, 10));
      await mutex.acquire();
      await db.close();
    },
  });

  return {
    ...(view(false) as Backend & { kind: "pglite" }),

    async snapshot() {
      await mutex.acquire();
      try {
        return await db.dumpDataDir("none");
      } finally {
        mutex.release();
      }
    },

    async replaceData(data) {
      // Sessions end first (each rolls back under the mutex), then the files change under it.
      for (const s of sessions) s.refuse("57P01", "terminating connection due to administrator command");
      await new Promise((resolve) => setTimeout(resolve, 10));
      await mutex.acquire();
      try {
        const old = await db.dumpDataDir("none");
        const swap = async (files: Blob) => {
          await db.close().catch(() => {});
          if (opts.dataDir !== "memory://" && opts.dataDir !== "") {
            rmSync(opts.dataDir, { recursive: true, force: true });
          }
          db = await openData(opts.dataDir, opts.database, files);
          identity = await installIdentityCheck(db, Object.keys(opts.roles));
        };
        try {
          await swap(data);
        } catch (err) {
          await swap(old); // the old files back: a failed restore loses nothing
          throw err;
        }
        readOnlyLeft = false;
        return old;
      } finally {
        mutex.release();
      }
    },
  };

  /**
   * A session's startup settings (options -c ..., other startup parameters), set once as its role
   * before the login completes: an invalid one fails the login, as on PostgreSQL. They live in the
   * one shared session like any SET (see the header).
   */
  async function applySettings(
    role: string,
    settings: [string, string][],
    readOnly: boolean,
  ): Promise<{ code: string; message: string } | null> {
    await mutex.acquire();
    try {
      const sql = settings.map(([k, v]) => `SET ${quoteIdent(k)} = ${quoteLiteral(v)}`).join("; ");
      const out = await execAs(role, guardRoleChanges(queryMessage(sql)), undefined, readOnly);
      const error = decodeSegments(out)[0]?.error;
      if (error) {
        await exec(CLEANUP);
        return { code: error.code ?? "22023", message: error.message };
      }
      const problem = verify(role, await exec(guard.check(role)));
      if (problem) {
        await exec(CLEANUP);
        return { code: "42501", message: guard.failure(problem).message };
      }
      return null;
    } finally {
      mutex.release();
    }
  }

  /** AuthenticationOk, the ParameterStatus messages, BackendKeyData, ReadyForQuery. */
  function hello(session: PgliteSession, role: string, startupParams: Record<string, string>, io: SessionIO) {
    if (session.isEnded) return;
    const params: [string, string][] = [
      ...serverParams,
      ["client_encoding", "UTF8"],
      ["is_superuser", "off"],
      ["session_authorization", role],
      ["application_name", startupParams.application_name ?? ""],
    ];
    io.send(
      Buffer.concat([
        authenticationRequest(0),
        ...params.map(([k, v]) => parameterStatus(k, v)),
        backendKeyData(nextPid++, Math.floor(Math.random() * 0x7fffffff)),
        readyForQuery("I"),
      ]),
    );
  }
}

/** Startup parameters that are not settings, or that PGlite's one session must not take from a client. */
const NOT_SETTINGS = new Set(["application_name", "client_encoding", "user", "database"]);
const IDENTITY_SETTINGS = new Set(["role", "session_authorization", "is_superuser"]);

/**
 * The settings a client's startup asks for: its other parameters and `options` (`-c name=value`,
 * `-cname=value`, `--name=value`; backslash escapes a space), or why the login is refused.
 */
export function startupSettings(params: Record<string, string>): [string, string][] | string {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(params)) {
    if (k === "options" || NOT_SETTINGS.has(k)) continue;
    if (k === "replication") return "replication connections are not supported on the PGlite backend";
    out.push([k, v]);
  }
  const tokens = (params.options ?? "").match(/(?:\\.|\S)+/g)?.map((t) => t.replace(/\\(.)/g, "$1")) ?? [];
  for (let i = 0; i < tokens.length; i++) {
    let t = tokens[i]!;
    if (t === "-c") t = tokens[++i] ?? "";
    else if (t.startsWith("-c")) t = t.slice(2);
    else if (t.startsWith("--")) t = t.slice(2);
    else return `invalid command-line argument for server process: ${t}`;
    const eq = t.indexOf("=");
    if (eq <= 0) return `invalid command-line argument for server process: ${t}`;
    out.push([t.slice(0, eq).replace(/-/g, "_"), t.slice(eq + 1)]);
  }
  for (const [k] of out) {
    if (IDENTITY_SETTINGS.has(k.toLowerCase()))
      return `permission denied to set parameter "${k}" at login on the local endpoint`;
  }
  return out;
}

/**
 * (Re)creates the identity check's function (as the superuser, so no client can replace it; a
 * start also undoes whatever a past escalation did to it) and reads each role's attributes and
 * memberships now, the baseline.
 */
async function installIdentityCheck(
  db: PGlite,
  roles: string[],
): Promise<{ oid: number; baseline: Map<string, string> }> {
  await db.exec(IDENTITY_FUNCTION);
  const fn = await db.query<{ oid: number }>(
    "SELECT $1::pg_catalog.regprocedure::pg_catalog.oid::int AS oid",
    [IDENTITY_FUNCTION_SIGNATURE],
  );
  const baseline = new Map<string, string>();
  for (const role of roles) {
    const r = await db.query<{ f: string }>(`SELECT ${fingerprintSql(role)} AS f`);
    baseline.set(role, r.rows[0]!.f);
  }
  return { oid: fn.rows[0]!.oid, baseline };
}
