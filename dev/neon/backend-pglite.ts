/**
 * Embedded PGlite backend: one in-process Postgres (18) session shared by every client.
 *
 * Isolation model, and its limits (a local-development stand-in, not a server):
 * - All client work is serialized through one FIFO mutex. An HTTP request holds it for its query
 *   or batch; a WebSocket session holds it from its first message until it is idle again
 *   (ReadyForQuery 'I' after a Sync/Query), so an open transaction blocks everyone else — a second
 *   concurrent transaction waits instead of running in parallel as on Postgres.
 * - Every unit of work starts with SET ROLE <client role> (and ends with RESET ROLE), so
 *   current_user, privileges and Row Level Security are the client's. The session user stays the
 *   PGlite superuser (PGlite cannot authenticate a different one), so statements that would change
 *   the role (SET/RESET ROLE, SET SESSION AUTHORIZATION, set_config('role', ..), DISCARD ALL) are
 *   refused with 42501 over HTTP and WebSocket by a conservative text check (role-guard.ts); SQL
 *   that builds such a statement at run time (EXECUTE in a DO block or function) is not caught.
 * - Every HTTP request ends with RESET ALL, so its SET / set_config(.., false) never reaches the
 *   next client. Other session-level state (named prepared statements, temp tables, advisory
 *   locks, LISTEN) still leaks between clients while the instance lives, and a WebSocket
 *   session's SETs are visible to other clients until that session ends (it runs DISCARD ALL
 *   then). A COPY FROM STDIN over HTTP fails at once (57014), as on postgres; a running query
 *   cannot be interrupted (requestTimeoutMs only bounds the wait for the shared session).
 * - current_database() is the configured database (it is created inside PGlite and opened by
 *   name); session_user is "postgres".
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
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
  DEFAULT_REQUEST_TIMEOUT_MS,
  ownerRole,
  requestTimeoutError,
  type Session,
  type SessionIO,
} from "./backend";
import { Mutex } from "./mutex";
import {
  authenticationRequest,
  backendKeyData,
  completeMessages,
  decodeSegments,
  parameterStatus,
  queryMessage,
  quoteIdent,
  quoteLiteral,
  readyForQuery,
  SYNC,
} from "./protocol";
import { guardRoleChanges } from "./role-guard";

const extensions = { pg_trgm, pg_stat_statements, btree_gist, unaccent };

export interface PgliteBackendOptions {
  dataDir: string;
  database: string;
  roles: Record<string, string>;
  /** How long an HTTP request may wait for the shared session (default 5 min). */
  requestTimeoutMs?: number;
  log: (line: string) => void;
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
    statements.push(
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN
           CREATE ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOBYPASSRLS;
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

function setRole(role: string): Buffer {
  return queryMessage(`SET ROLE ${quoteIdent(role)}`);
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

const RESET_ROLE = queryMessage("RESET ROLE");
/** After every HTTP request: its session-level settings (SET, set_config(.., false)) must not outlive it. */
const HTTP_TRAILER = queryMessage("RESET ROLE; RESET ALL");

export async function startPgliteBackend(opts: PgliteBackendOptions): Promise<Backend> {
  const db = await openPglite(opts.dataDir, opts.database);
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
  let nextPid = 1000;
  const sessions = new Set<PgliteSession>();

  /** Runs raw frontend bytes; the caller holds the mutex. Copies out of WASM memory. */
  async function exec(input: Buffer): Promise<Buffer> {
    const out = await db.execProtocolRaw(input);
    return Buffer.from(out);
  }

  /** Runs `SET ROLE` + messages; returns the messages' output, or throws if the role could not be set. */
  async function execAs(role: string, messages: Buffer, trailer?: Buffer): Promise<Buffer> {
    const prefix = setRole(role);
    const out = await exec(
      trailer ? Buffer.concat([prefix, messages, trailer]) : Buffer.concat([prefix, messages]),
    );
    const ends = readyEnds(out);
    const first = decodeSegments(out.subarray(0, ends[0]))[0];
    if (!ends.length || first?.error) {
      throw new Error(`could not switch to role ${role}: ${first?.error?.message ?? "no reply"}`);
    }
    const stop = trailer ? ends[ends.length - 2] : out.length;
    return out.subarray(ends[0], stop);
  }

  class PgliteSession implements Session {
    private pending: Buffer = Buffer.alloc(0);
    private holding = false;
    private pumping = false;
    private ended = false;

    constructor(
      private readonly role: string,
      private readonly io: SessionIO,
    ) {}

    write(data: Buffer): void {
      this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
      void this.pump();
    }

    end(): void {
      this.ended = true;
      void this.pump();
    }

    private async pump(): Promise<void> {
      if (this.pumping) return;
      this.pumping = true;
      try {
        for (;;) {
          const { starts, end } = completeMessages(this.pending);
          if (!starts.length) break;
          let batch = this.pending.subarray(0, end);
          this.pending = this.pending.subarray(end);
          // Terminate never reaches PGlite (it would end the only session): it ends ours.
          const terminateAt = starts.find((s) => batch[s] === 0x58);
          if (terminateAt !== undefined) {
            batch = batch.subarray(0, terminateAt);
            this.ended = true;
            this.pending = Buffer.alloc(0);
          }
          if (!batch.length) break;
          const lastType = batch[starts.filter((s) => s < batch.length).at(-1)!]!;
          batch = guardRoleChanges(batch);
          let out: Buffer;
          if (this.holding) out = await exec(batch);
          else {
            await mutex.acquire();
            this.holding = true;
            out = await execAs(this.role, batch);
          }
          if (out.length && !this.ended) this.io.send(out);
          const ends = readyEnds(out);
          const idle = ends.length > 0 && out[ends.at(-1)! - 1] === 0x49; // 'I'
          if (idle && (lastType === 0x53 || lastType === 0x51)) this.releaseLock();
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
        await exec(Buffer.concat([SYNC, queryMessage("ROLLBACK"), queryMessage("DISCARD ALL"), RESET_ROLE]));
      } finally {
        this.releaseLock();
        this.io.close();
      }
    }
  }

  return {
    kind: "pglite",

    async run(role, messages, syncs) {
      await mutex.acquire(timeoutMs, () => requestTimeoutError(timeoutMs));
      try {
        const out = await execAs(role, guardRoleChanges(messages), HTTP_TRAILER);
        const ends = readyEnds(out);
        if (ends.length !== syncs) throw new Error("unexpected PGlite reply");
        // A lone "BEGIN" sent over HTTP must not leave the shared session inside a transaction
        // (the trailer ran inside it and is undone by the rollback, so it is repeated).
        if (out[ends.at(-1)! - 1] !== 0x49)
          await exec(Buffer.concat([queryMessage("ROLLBACK"), HTTP_TRAILER]));
        return out;
      } finally {
        mutex.release();
      }
    },

    openSession(role, _database, startupParams, io): Session {
      const session = new PgliteSession(role, io);
      sessions.add(session);
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
      return session;
    },

    async close() {
      // Let sessions whose sockets were just terminated roll back first (they queue on the mutex).
      await new Promise((resolve) => setTimeout(resolve, 10));
      await mutex.acquire();
      await db.close();
    },
  };
}
