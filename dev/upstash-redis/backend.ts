/**
 * The two stores behind the REST surface: a real redis-server (via the RESP client) or the
 * embedded in-memory store. Both take commands as string arrays and answer Reply values, with
 * Redis errors as RedisError values (never thrown).
 */

import { ScriptShaMap } from "./lua-flags";
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

export function redisBackend(url: string): Backend {
  const client = new RespClient(url);
  const shas = new ScriptShaMap();
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
      const no = refused(args);
      if (no) return no;
      if (isBlocking(args)) return client.exclusive(async (c) => (await c.send([args]))[0] as Reply);
      return (await run([args]))[0] as Reply;
    },
    async pipeline(commands) {
      const out: Reply[] = new Array(commands.length).fill(null);
      const send: string[][] = [];
      const at: number[] = [];
      commands.forEach((c, i) => {
        const no =
          refused(c) ??
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
