/**
 * What the benchmark's scripts share: where PostgreSQL and the bench database are, the query every
 * handler runs (the ceiling replays a response captured for exactly this query, so all must agree),
 * the headers neon() sends to /sql, and how a helper process is started and its CPU time read.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";
import { LOCAL } from "../../dev/config";

export const ADMIN_URL = process.env.LOCAL_POSTGRES_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
/** A database on the machine's PostgreSQL: as the superuser, or as a local role with its password. */
export function databaseUrl(database: string, role?: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  if (role) {
    u.username = role;
    u.password = LOCAL.roles[role] ?? "";
  }
  return u.toString();
}

/** One statement as the machine's PostgreSQL superuser (create/drop the benchmarks' databases). */
export async function admin(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

export const DATABASE = "neon_bench";
export const APP_ROLE = "fisioflow_app";
export const QUERY =
  "select id, nome, email, telefone, data_nascimento, criado_em from pacientes where id = $1";

/** The app role's connection string as neon() gets it (through the local endpoint). */
export function neonConnectionString(query = ""): string {
  return `postgresql://${APP_ROLE}:${encodeURIComponent(LOCAL.roles[APP_ROLE]!)}@localhost/${DATABASE}${query}`;
}

/** The headers neon() sends with a single query to /sql. */
export function sqlHeaders(connectionString: string): Record<string, string> {
  return {
    "Content-Type": "application/json",
    "Neon-Connection-String": connectionString,
    "Neon-Raw-Text-Output": "true",
    "Neon-Array-Mode": "true",
  };
}

/** CPU seconds (user + system) a process has used so far; Linux /proc only, else 0. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

/**
 * Spawns `node --import tsx <script>`; `ready` resolves with the first capture of `pattern` in its
 * stdout, and rejects if the process exits first.
 */
export function spawnTsx(
  script: string,
  env: Record<string, string>,
  pattern: RegExp,
  nodeArgs: string[] = [],
): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, ready };
}
