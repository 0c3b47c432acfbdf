/**
 * Where a local branch's data lives, and how a branch is copied and restored: the storage half of
 * Neon's branching, done with what each backend has.
 *
 * - postgres: a branch is a database of its own, `<database>_<branch id>` (the main branch keeps
 *   the endpoint's database). A new branch is a copy of its parent taken with `pg_dump -Fc |
 *   pg_restore` in one snapshot, so the parent's clients are never disturbed (CREATE DATABASE ...
 *   TEMPLATE would need every connection to the parent closed first). A restore copies the source
 *   the same way, then closes the target's connections (as a Neon restore restarts its compute),
 *   renames the target's database to the preserved branch's and the copy to the target's: the
 *   target keeps its name and its endpoints, and nothing is ever dropped to make room.
 * - pglite: a branch is a PGlite instance of its own, loaded from its parent's files
 *   (`dumpDataDir`, taken between units of work: one session, so always consistent); in memory
 *   when the endpoint is, else under `<dataDir>/branches/<branch id>`. A restore swaps the
 *   target's files for the source's, and the target's old files become the preserved branch.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { type Backend, ownerRole } from "../neon/backend";
import { type PgliteBackend, startPgliteBackend } from "../neon/backend-pglite";
import { type PostgresBackend, startPostgresBackend } from "../neon/backend-postgres";
import { quoteIdent } from "../neon/protocol";

/** One branch's data: the backend its read-write endpoints use (read-only ones take a view of it). */
export interface BranchData {
  backend: Backend;
  /** The backend's database (postgres) or data dir (pglite): what the branch's data is. */
  location: string;
}

export interface BranchStorage {
  readonly kind: "postgres" | "pglite";
  /** The main branch's data: the endpoint's own backend (owned by the endpoint, never closed here). */
  readonly main: BranchData;
  /** A new branch's data: a copy of `parent`'s as it is now. */
  fork(parent: BranchData, branchId: string): Promise<BranchData>;
  /** Opens a branch's data that already exists (a restart of the local cloud). */
  reopen(branchId: string, location: string): Promise<BranchData>;
  /**
   * Gives `target` a copy of `source`'s data; its old data becomes `preservedId`'s (returned).
   * `target` keeps its backend object, so its endpoints keep serving it.
   */
  restore(target: BranchData, source: BranchData, preservedId: string): Promise<BranchData>;
  /** Deletes a branch's data (never the main branch's). */
  drop(data: BranchData): Promise<void>;
}

export interface StorageOptions {
  database: string;
  roles: Record<string, string>;
  log: (line: string) => void;
  requestTimeoutMs?: number;
}

/** A Postgres identifier from a branch id: `<database>_<id with - as _>`, at most 63 bytes. */
export function branchDatabaseName(database: string, branchId: string): string {
  const suffix = `_${branchId.replace(/[^A-Za-z0-9]/g, "_").toLowerCase()}`;
  return `${database.slice(0, 63 - suffix.length)}${suffix}`;
}

// ---------------------------------------------------------------------------------------------
// postgres

/** pg_dump and pg_restore: on PATH, else the newest under /usr/lib/postgresql/<n>/bin (Debian). */
export function findPostgresTool(name: "pg_dump" | "pg_restore"): string {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) if (existsSync(join(base, v, "bin", name))) return join(base, v, "bin", name);
  throw new Error(
    `${name} not found: branching on the postgres backend copies databases with pg_dump and pg_restore (Debian: apt-get install postgresql-client)`,
  );
}

/** The superuser URL on `database`, without its password (that goes in PGPASSWORD, not in argv). */
function adminUrl(postgresUrl: string, database: string): string {
  const u = new URL(postgresUrl);
  u.pathname = `/${encodeURIComponent(database)}`;
  u.password = "";
  return u.toString();
}

/** The environment pg_dump and pg_restore run with: the superuser's password, if any. */
function toolEnv(postgresUrl: string): NodeJS.ProcessEnv {
  const password = decodeURIComponent(new URL(postgresUrl).password);
  return password ? { ...process.env, PGPASSWORD: password } : process.env;
}

/** `pg_dump -Fc source | pg_restore -d target`, as the superuser; rejects with pg_restore's errors. */
function copyDatabase(postgresUrl: string, source: string, target: string): Promise<void> {
  const dump = spawn(findPostgresTool("pg_dump"), ["-Fc", "--no-sync", adminUrl(postgresUrl, source)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: toolEnv(postgresUrl),
  });
  const restore = spawn(
    findPostgresTool("pg_restore"),
    ["--exit-on-error", "--no-comments", "-d", adminUrl(postgresUrl, target)],
    { stdio: ["pipe", "ignore", "pipe"], env: toolEnv(postgresUrl) },
  );
  dump.stdout.pipe(restore.stdin);
  const errors: string[] = [];
  const collect = (who: string) => (b: Buffer) => {
    if (errors.join("").length < 4000) errors.push(`${who}: ${b.toString()}`);
  };
  dump.stderr.on("data", collect("pg_dump"));
  restore.stderr.on("data", collect("pg_restore"));
  const exit = (p: ReturnType<typeof spawn>) =>
    new Promise<number>((resolve, reject) => {
      p.once("error", reject);
      p.once("close", (code) => resolve(code ?? 1));
    });
  return Promise.all([exit(dump), exit(restore)]).then(([a, b]) => {
    if (a !== 0 || b !== 0) {
      // Passwords never reach these messages: the URLs carry none (PGPASSWORD does).
      throw new Error(`copying database ${source} to ${target} failed: ${errors.join("").trim()}`);
    }
  });
}

async function withAdmin<T>(postgresUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: postgresUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

export function postgresStorage(
  main: PostgresBackend,
  postgresUrl: string,
  opts: StorageOptions,
): BranchStorage {
  const start = (database: string) =>
    startPostgresBackend({
      postgresUrl,
      database,
      roles: opts.roles,
      poolSize: 10,
      requestTimeoutMs: opts.requestTimeoutMs,
      log: opts.log,
    });
  const owner = ownerRole(opts.roles);

  /** An empty database owned as the endpoint's are, then filled with `source`'s contents. */
  async function copyInto(source: string, target: string): Promise<void> {
    await withAdmin(postgresUrl, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(target)} WITH (FORCE)`); // a failed earlier try
      // template0: nothing of template1 in the way of the restore.
      await c.query(
        `CREATE DATABASE ${quoteIdent(target)} TEMPLATE template0${owner ? ` OWNER ${quoteIdent(owner)}` : ""}`,
      );
    });
    try {
      await copyDatabase(postgresUrl, source, target);
    } catch (err) {
      await withAdmin(postgresUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${quoteIdent(target)} WITH (FORCE)`),
      );
      throw err;
    }
  }

  return {
    kind: "postgres",
    main: { backend: main, location: main.database },

    async fork(parent, branchId) {
      const database = branchDatabaseName(opts.database, branchId);
      await copyInto(parent.location, database);
      return { backend: await start(database), location: database };
    },

    async reopen(_branchId, location) {
      return { backend: await start(location), location };
    },

    async restore(target, source, preservedId) {
      const preserved = branchDatabaseName(opts.database, preservedId);
      const incoming = `${branchDatabaseName(opts.database, preservedId).slice(0, 55)}_restore`;
      await copyInto(source.location, incoming);
      const backend = target.backend as PostgresBackend;
      await withAdmin(postgresUrl, async (c) => {
        const t = quoteIdent(target.location);
        // No new connections while the data changes hands (the superuser's are still allowed).
        await c.query(`ALTER DATABASE ${t} ALLOW_CONNECTIONS false`);
        try {
          await backend.disconnect();
          await c.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            [target.location],
          );
          await c.query(`ALTER DATABASE ${t} RENAME TO ${quoteIdent(preserved)}`);
          try {
            await c.query(`ALTER DATABASE ${quoteIdent(incoming)} RENAME TO ${t}`);
          } catch (err) {
            // The target's data back under its own name: a failed restore loses nothing.
            await c.query(`ALTER DATABASE ${quoteIdent(preserved)} RENAME TO ${t}`).catch(() => {});
            throw err;
          }
          await c.query(`ALTER DATABASE ${quoteIdent(preserved)} ALLOW_CONNECTIONS true`);
        } catch (err) {
          await c.query(`ALTER DATABASE ${t} ALLOW_CONNECTIONS true`).catch(() => {});
          await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(incoming)} WITH (FORCE)`).catch(() => {});
          throw err;
        }
      });
      return { backend: await start(preserved), location: preserved };
    },

    async drop(data) {
      if (data.backend === main) throw new Error("the main branch's database is never dropped");
      await data.backend.close();
      await withAdmin(postgresUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${quoteIdent(data.location)} WITH (FORCE)`),
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------
// pglite

export function pgliteStorage(main: PgliteBackend, mainDataDir: string, opts: StorageOptions): BranchStorage {
  const inMemory = mainDataDir === "memory://" || mainDataDir === "";
  const dirOf = (branchId: string) =>
    inMemory ? "memory://" : join(mainDataDir, "..", "branches", branchId);
  const start = (dataDir: string, loadDataDir?: Blob) =>
    startPgliteBackend({
      dataDir,
      database: opts.database,
      roles: opts.roles,
      requestTimeoutMs: opts.requestTimeoutMs,
      loadDataDir,
      log: opts.log,
    });

  return {
    kind: "pglite",
    main: { backend: main, location: mainDataDir },

    async fork(parent, branchId) {
      const dir = dirOf(branchId);
      if (!inMemory) rmSync(dir, { recursive: true, force: true }); // a failed earlier try
      const data = await (parent.backend as PgliteBackend).snapshot();
      return { backend: await start(dir, data), location: dir };
    },

    async reopen(_branchId, location) {
      return { backend: await start(location), location };
    },

    async restore(target, source, preservedId) {
      const incoming = await (source.backend as PgliteBackend).snapshot();
      const old = await (target.backend as PgliteBackend).replaceData(incoming);
      const dir = dirOf(preservedId);
      if (!inMemory) rmSync(dir, { recursive: true, force: true });
      return { backend: await start(dir, old), location: dir };
    },

    async drop(data) {
      if (data.backend === main) throw new Error("the main branch's data is never dropped");
      await data.backend.close();
      if (!inMemory) rmSync(data.location, { recursive: true, force: true });
    },
  };
}
