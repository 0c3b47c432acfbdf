/**
 * The two stores behind the REST surface: a real redis-server (via the RESP client) or the
 * embedded in-memory store. Both take commands as string arrays and answer Reply values, with
 * Redis errors as RedisError values (never thrown).
 */

import { ScriptShaMap } from "./lua-flags";
import { HASH_FIELD_EXPIRY_SINCE } from "./memory/hash-field-expiry";
import { MemoryStore } from "./memory/index";
import { RedisError, type Reply } from "./reply";
import { RespClient } from "./resp";

const EXECABORT = "EXECABORT Transaction discarded because of previous errors.";

export interface Backend {
  readonly name: "redis" | "memory";
  command(args: string[]): Promise<Reply>;
  /** Not atomic: one reply per command, in order. */
  pipeline(commands: string[][]): Promise<Reply[]>;
  /** Atomic; a transaction-level failure (EXECABORT) is one RedisError. */
  multi(commands: string[][]): Promise<Reply[] | RedisError>;
  close(): Promise<void>;
}

export function memoryBackend(): Backend {
  const store = new MemoryStore();
  return {
    name: "memory",
    command: async (args) => store.execute(args),
    pipeline: async (commands) => commands.map((c) => store.execute(c)),
    multi: async (commands) => store.multi(commands),
    close: async () => store.close(),
  };
}

/** Commands that change or hold a connection's state; on a shared, pipelined connection they
 * would leak into other requests, so they are refused (Upstash refuses them over REST too). */
const CONNECTION_STATE = new Set([
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "select",
  "auth",
  "hello",
  "reset",
  "quit",
  "client",
  "monitor",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "sync",
  "psync",
  "replicaof",
  "slaveof",
  "shutdown",
]);

/** Blocking commands would stall every request pipelined behind them: they get their own connection. */
const BLOCKING = new Set([
  "blpop",
  "brpop",
  "blmove",
  "brpoplpush",
  "bzpopmin",
  "bzpopmax",
  "blmpop",
  "bzmpop",
  "wait",
]);

function refused(args: string[]): RedisError | null {
  const name = (args[0] ?? "").toLowerCase();
  return CONNECTION_STATE.has(name) ? new RedisError(`ERR Command is not available: '${name}'`) : null;
}

function isBlocking(args: string[]): boolean {
  const name = (args[0] ?? "").toLowerCase();
  return BLOCKING.has(name) || (name === "xread" && args.some((a) => a.toLowerCase() === "block"));
}

/** Whether dotted version `v` (e.g. "7.0.15") is at least `want` (e.g. "7.4"). */
export function versionAtLeast(v: string, want: string): boolean {
  const a = v.split(".").map(Number);
  const b = want.split(".").map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

export function redisBackend(url: string): Backend {
  const client = new RespClient(url);
  const shas = new ScriptShaMap();
  /** The server's redis_version, asked once (INFO server) the first time a command newer than
   * Redis 7.0 arrives; null when it cannot be told (then the command goes through as is). */
  let version: Promise<string | null> | undefined;
  const serverVersion = () => {
    version ??= client.command(["INFO", "server"]).then(
      (r) =>
        (Buffer.isBuffer(r) || typeof r === "string"
          ? /redis_version:([0-9.]+)/.exec(String(r))?.[1]
          : null) ?? null,
      () => {
        version = undefined; // not reachable now: ask again next time
        return null;
      },
    );
    return version;
  };
  /** Hash-field expiry (7.4) and HGETDEL/HGETEX/HSETEX (8.0) on an older server: one clear error
   * instead of Redis' "unknown command". */
  const tooNew = async (c: string[]): Promise<RedisError | null> => {
    const name = (c[0] ?? "").toLowerCase();
    const since = HASH_FIELD_EXPIRY_SINCE[name];
    if (!since) return null;
    const v = await serverVersion();
    if (v === null || versionAtLeast(v, since)) return null;
    return new RedisError(
      `ERR ${name.toUpperCase()} needs Redis ${since}+ (REDIS_URL points at Redis ${v}); the embedded store (no REDIS_URL) serves it`,
    );
  };
  const anyTooNew = async (commands: string[][]) =>
    commands.some((c) => HASH_FIELD_EXPIRY_SINCE[(c[0] ?? "").toLowerCase()])
      ? Promise.all(commands.map(tooNew))
      : commands.map(() => null);
  /** Commands as the script rewriter sends them to Redis, and how to map Redis' replies back. */
  const rewriteAll = (commands: string[][]) => {
    const rewritten = commands.map((c) => shas.rewrite(c));
    return {
      args: rewritten.map((r) => r.args),
      fix: (replies: Reply[]) => replies.map((r, i) => rewritten[i]!.fixReply?.(r) ?? r),
    };
  };
  const run = async (commands: string[][]): Promise<Reply[]> => {
    const { args, fix } = rewriteAll(commands);
    return fix(await client.pipeline(args));
  };
  return {
    name: "redis",
    async command(args) {
      const no = refused(args) ?? (await tooNew(args));
      if (no) return no;
      if (isBlocking(args)) return client.exclusive(async (c) => (await c.send([args]))[0] as Reply);
      return (await run([args]))[0] as Reply;
    },
    async pipeline(commands) {
      const out: Reply[] = new Array(commands.length).fill(null);
      const send: string[][] = [];
      const at: number[] = [];
      const newer = await anyTooNew(commands);
      commands.forEach((c, i) => {
        const no =
          refused(c) ??
          newer[i] ??
          (isBlocking(c) ? new RedisError("ERR blocking commands are not allowed in a pipeline") : null);
        if (no) out[i] = no;
        else {
          send.push(c);
          at.push(i);
        }
      });
      if (send.length) {
        const replies = await run(send);
        replies.forEach((r, j) => {
          out[at[j]!] = r;
        });
      }
      return out;
    },
    async multi(commands) {
      for (const c of commands) {
        if (refused(c) || isBlocking(c)) return new RedisError(EXECABORT);
      }
      // Redis would discard the block (EXECABORT, unknown command); say why instead.
      const newer = (await anyTooNew(commands)).find((e) => e !== null);
      if (newer) return newer;
      const { args, fix } = rewriteAll(commands);
      return client.exclusive(async (conn) => {
        const replies = await conn.send([["MULTI"], ...args, ["EXEC"]]);
        const exec = replies[replies.length - 1] as Reply;
        if (exec instanceof RedisError) return exec;
        if (!Array.isArray(exec)) return new RedisError(EXECABORT);
        return fix(exec);
      });
    },
    close: async () => client.close(),
  };
}
