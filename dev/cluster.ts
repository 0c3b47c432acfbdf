/**
 * A private PostgreSQL cluster: `initdb` into a temporary directory, started on a free port with
 * the machine's server binaries, for the runs that must stop, crash or restart PostgreSQL (the soak
 * in bench/soak, the migration's crash tests) without touching the machine's shared server.
 *
 * The binaries come from PG_BIN, else the newest /usr/lib/postgresql/<version>/bin, else
 * `pg_config --bindir`. PostgreSQL refuses to run as root: under root, every server command runs
 * as the `postgres` user (`runuser`), which then owns the data directory. Nothing here is used in
 * production.
 */
import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The directory holding initdb, pg_ctl and postgres, or null with what was looked for. */
export function findPgBin(): { dir: string } | { dir: null; looked: string } {
  const has = (d: string) => existsSync(join(d, "initdb")) && existsSync(join(d, "pg_ctl"));
  if (process.env.PG_BIN) {
    return has(process.env.PG_BIN)
      ? { dir: process.env.PG_BIN }
      : { dir: null, looked: `PG_BIN=${process.env.PG_BIN} (no initdb/pg_ctl there)` };
  }
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (has(join(root, v, "bin"))) return { dir: join(root, v, "bin") };
  }
  try {
    const dir = execFileSync("pg_config", ["--bindir"], { encoding: "utf8", timeout: 5000 }).trim();
    if (has(dir)) return { dir };
  } catch {
    // no pg_config on PATH
  }
  return {
    dir: null,
    looked: "PG_BIN, /usr/lib/postgresql/<version>/bin and `pg_config --bindir` (PostgreSQL server binaries)",
  };
}

/** A port nobody listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface PrivateCluster {
  /** postgresql://postgres@127.0.0.1:PORT/postgres (trust auth, loopback only) */
  url: string;
  port: number;
  dataDir: string;
  /**
   * Stops the server. `immediate` is a crash as far as the data is concerned (no checkpoint; the
   * next start replays the WAL); `fast` is a clean shutdown. Either way clients are cut off.
   */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it (if running) and deletes the data directory. */
  destroy(): Promise<void>;
}

export interface PrivateClusterOptions {
  /** extra `-c name=value` server settings */
  settings?: Record<string, string | number>;
  log?: (line: string) => void;
}

/**
 * initdb + start. Throws (with the server's log tail) if either fails; the caller checks
 * `findPgBin()` first to skip with a message when there are no binaries.
 */
export async function startPrivateCluster(opts: PrivateClusterOptions = {}): Promise<PrivateCluster> {
  const bin = findPgBin();
  if (bin.dir === null) throw new Error(`PostgreSQL server binaries not found: looked in ${bin.looked}`);
  const binDir = bin.dir;
  const asRoot = process.getuid?.() === 0;
  const base = mkdtempSync(join(os.tmpdir(), "fisioflow-pg-"));
  const dataDir = join(base, "data");
  const socketDir = base;
  if (asRoot) chownSync(base, uidOf("postgres"), gidOf("postgres"));
  const pg = (tool: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(binDir, tool), ...args], { timeout: 120_000 })
      : run(join(binDir, tool), args, { timeout: 120_000 });
  const port = await freePort();
  const log = opts.log ?? (() => {});
  const settings: Record<string, string | number> = {
    port,
    listen_addresses: "127.0.0.1",
    unix_socket_directories: socketDir,
    max_connections: 200,
    ...opts.settings,
  };
  const serverOptions = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(" ");
  const logFile = join(base, "server.log");

  log(`initdb ${dataDir} (${binDir})`);
  try {
    await pg("initdb", ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
  let running = false;
  const start = async () => {
    try {
      await pg("pg_ctl", ["-D", dataDir, "-l", logFile, "-o", serverOptions, "-w", "-t", "60", "start"]);
    } catch (err) {
      throw new Error(
        `PostgreSQL did not start on port ${port}: ${(err as Error).message}\n${tail(logFile)}`,
      );
    }
    running = true;
  };
  const stop = async (mode: "fast" | "immediate" = "fast") => {
    if (!running) return;
    await pg("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"]);
    running = false;
  };
  await start();
  log(`PostgreSQL started on 127.0.0.1:${port}`);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    stop,
    start,
    async destroy() {
      try {
        await stop("immediate");
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
}

function tail(file: string): string {
  try {
    if (!statSync(file).size) return "";
    return execFileSync("tail", ["-n", "20", file], { encoding: "utf8" });
  } catch {
    return "";
  }
}

function uidOf(user: string): number {
  return Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
}

function gidOf(user: string): number {
  return Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
}
