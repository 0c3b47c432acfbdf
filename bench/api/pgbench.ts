/**
 * The database's ceiling for a read endpoint: pgbench running the route's own SQL, after the same
 * identity statement in the same READ ONLY transaction, straight to PostgreSQL as the app role
 * (RLS applies). pgbench cannot pick a uuid at random, so each script file carries one caller and
 * its arguments as literals, and pgbench picks one of SCRIPTS files (equal weights) for every
 * transaction. Latency percentiles come from its per-transaction log (-l).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_IDENTITY_TTL_SECONDS } from "../../db/identity";
import { AUTH_SQL } from "../../db/session";
import { APP_ROLE, BENCH_SIGNER, DATABASE, inlineParams, ROLE, type Statement } from "./common";

/** pgbench takes at most 128 scripts. */
export const SCRIPTS = 100;

export function findPgbench(): string | null {
  for (const bin of ["/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench", "/usr/local/bin/pgbench"]) {
    try {
      accessSync(bin, constants.X_OK);
      return bin;
    } catch {}
  }
  return null;
}

/** Writes the script files for one endpoint into `dir`; returns their names. */
export async function writeScripts(
  dir: string,
  prefix: string,
  items: { userId: string; statement: Statement }[],
): Promise<string[]> {
  // The longest-lived tokens the database accepts: a warm-up and a run of up to 9 minutes.
  const auth = (token: string) => inlineParams({ text: AUTH_SQL, params: [token], readOnly: true });
  const tokens = await Promise.all(
    items.map((item) => BENCH_SIGNER.token(item.userId, ROLE, { ttlSeconds: MAX_IDENTITY_TTL_SECONDS - 10 })),
  );
  return items.map((item, i) => {
    const name = `${prefix}-${i}.sql`;
    const body = [
      item.statement.readOnly ? "BEGIN READ ONLY;" : "BEGIN;",
      `${auth(tokens[i]!)};`,
      // A command may span lines up to its semicolon; keep it on one line anyway.
      `${inlineParams(item.statement).replace(/\s+/g, " ").trim()};`,
      "COMMIT;",
      "",
    ].join("\n");
    writeFileSync(join(dir, name), body);
    return name;
  });
}

export interface PgbenchRun {
  requestsPerSec: number;
  total: number;
  failed: number;
  latencyMs: { p50: number; p95: number; p99: number };
  exitCode: number | null;
  /** The last lines pgbench wrote to stderr when it failed. */
  stderr?: string;
}

export interface PgbenchOptions {
  bin: string;
  dir: string;
  scripts: string[];
  clients: number;
  threads: number;
  seconds: number;
  /** Per-transaction log for percentiles, with this file prefix. */
  logPrefix?: string;
  host: string;
  port: number;
  onSpawn?(child: ChildProcess): void;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i]! * 100) / 100;
}

export async function runPgbench(o: PgbenchOptions): Promise<PgbenchRun> {
  const args = [
    ...["-h", o.host, "-p", String(o.port), "-U", APP_ROLE],
    ...["-n", "-M", "prepared", "-c", String(o.clients), "-j", String(o.threads), "-T", String(o.seconds)],
    ...(o.logPrefix ? ["-l", `--log-prefix=${o.logPrefix}`] : []),
    ...o.scripts.flatMap((s) => ["-f", `${s}@1`]),
    DATABASE,
  ];
  const child = spawn(o.bin, args, { cwd: o.dir, stdio: ["ignore", "pipe", "pipe"] });
  o.onSpawn?.(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), (o.seconds + 30) * 1000);
  const exitCode = await new Promise<number | null>((resolve) => child.once("close", resolve));
  clearTimeout(killer);

  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const latencies: number[] = [];
  let failedInLog = 0;
  if (o.logPrefix) {
    for (const f of readdirSync(o.dir).filter((n) => n.startsWith(`${o.logPrefix}.`))) {
      for (const line of readFileSync(join(o.dir, f), "utf8").split("\n")) {
        const us = line.split(" ")[2];
        if (us === undefined) continue;
        const v = Number(us);
        if (Number.isFinite(v)) latencies.push(v / 1000);
        else failedInLog++;
      }
    }
  }
  const sorted = Float64Array.from(latencies).sort();
  const failed = num(/number of failed transactions: (\d+)/) || failedInLog;
  return {
    requestsPerSec: Math.round(num(/tps = ([\d.]+) \(without initial connection time\)/)),
    total: num(/number of transactions actually processed: (\d+)/),
    failed,
    latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
    exitCode,
    ...(exitCode !== 0 ? { stderr: err.trim().split("\n").slice(-5).join("\n") } : {}),
  };
}
