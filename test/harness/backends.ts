/**
 * Which database backends the local Neon endpoint is tested against.
 *
 * - `pglite`: embedded PGlite, always available (a laptop with only Node 22 has it).
 * - `postgres`: a real PostgreSQL server, from LOCAL_POSTGRES_URL or the machine's default
 *   postgresql://postgres@127.0.0.1:5432/postgres. When it cannot be reached the suites for it are
 *   skipped with a message saying so, except in CI (CI=true), where that is a failure: CI must
 *   always cover both backends.
 */
import { spawnSync } from "node:child_process";
import pg from "pg";

export type BackendName = "pglite" | "postgres";

export const DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

export function postgresAdminUrl(): string {
  return process.env.LOCAL_POSTGRES_URL || process.env.TEST_POSTGRES_URL || DEFAULT_POSTGRES_URL;
}

let probe: Promise<string | null> | undefined;

/** null when reachable, else the reason it is not. */
export function probePostgres(): Promise<string | null> {
  probe ??= (async () => {
    const client = new pg.Client({ connectionString: postgresAdminUrl(), connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query("select 1");
      return null;
    } catch (err) {
      return `PostgreSQL not reachable at ${redact(postgresAdminUrl())}: ${(err as Error).message}`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return probe;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

/** Drops a test database on the real-Postgres backend (FORCE: the endpoint's sessions may linger). */
export async function dropDatabase(database: string) {
  const admin = new pg.Client({ connectionString: postgresAdminUrl() });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${database}" with (force)`);
  } finally {
    await admin.end();
  }
}

/**
 * The names listed in `variable` (comma-separated), default all. An unknown name is an error, and
 * so is leaving one out under CI=true: narrowing is for a developer's quick run, and CI must never
 * skip a backend's suites silently.
 */
export function wantedBackends<N extends string>(variable: string, all: readonly N[]): N[] {
  const raw = process.env[variable];
  if (!raw) return [...all];
  const wanted = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((w) => !(all as readonly string[]).includes(w));
  if (unknown.length)
    throw new Error(`${variable}: unknown backend ${unknown.join(", ")} (known: ${all.join(", ")})`);
  const left = all.filter((b) => !wanted.includes(b));
  if (left.length && process.env.CI === "true") {
    throw new Error(`CI must test every backend, but ${variable}=${raw} leaves out ${left.join(", ")}`);
  }
  if (left.length) console.warn(`[skip] ${left.join(", ")}: left out by ${variable}=${raw}`);
  return all.filter((b) => wanted.includes(b));
}

/**
 * The backends to run a suite against, each with `skip` set to a reason when it is unavailable.
 * TEST_BACKENDS=pglite or =postgres narrows the list (not under CI).
 */
export async function testBackends(): Promise<{ name: BackendName; skip: string | null }[]> {
  const wanted = wantedBackends<BackendName>("TEST_BACKENDS", ["pglite", "postgres"]);
  const out: { name: BackendName; skip: string | null }[] = [];
  if (wanted.includes("pglite")) out.push({ name: "pglite", skip: null });
  if (wanted.includes("postgres")) {
    const reason = await probePostgres();
    if (reason && process.env.CI === "true") {
      throw new Error(`CI must test the real-Postgres backend, but ${reason}`);
    }
    if (reason) console.warn(`[skip] postgres backend: ${reason}`);
    out.push({ name: "postgres", skip: reason });
  }
  return out;
}

/**
 * null when the PostgreSQL client program `name` (psql, pg_dump) runs, else why not; under CI=true
 * its absence is a failure (.ci/run installs postgresql-client).
 */
export function probeClientProgram(name: string): string | null {
  const r = spawnSync(name, ["--version"], { encoding: "utf8" });
  if (r.status === 0) return null;
  const reason = `${name} not found (install the PostgreSQL client, e.g. apt-get install postgresql-client)`;
  if (process.env.CI === "true") throw new Error(`CI must run the ${name} tests, but ${reason}`);
  console.warn(`[skip] ${reason}`);
  return reason;
}
