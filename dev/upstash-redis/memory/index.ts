/**
 * The embedded in-memory Redis: a command table over one keyspace, run synchronously, so every
 * command, script and MULTI/EXEC block is atomic by construction (Node runs one at a time).
 */
import { RedisError, type Reply } from "../reply";
import { bitCommands } from "./bits";
import { Db } from "./db";
import { geoCommands } from "./geo";
import { hashCommands } from "./hashes";
import { hllCommands } from "./hll";
import { keyCommands } from "./keys";
import { listCommands } from "./lists";
import { moreCommands } from "./more";
import { makeScriptingCommands } from "./scripts";
import { setCommands } from "./sets";
import { streamCommands } from "./streams";
import { stringCommands } from "./strings";
import type { CommandTable, Ctx } from "./types";
import { zsetCommands } from "./zsets";

/** EVAL & co., SCRIPT, FUNCTION and FCALL & co., run by the Lua interpreter (scripts.ts, lua.ts). */
const scriptingCommands: CommandTable = makeScriptingCommands(checkCommand);

const COMMANDS: CommandTable = {
  ...stringCommands,
  ...keyCommands,
  ...hashCommands,
  ...setCommands,
  ...zsetCommands,
  ...listCommands,
  ...scriptingCommands,
  ...bitCommands,
  ...hllCommands,
  ...geoCommands,
  ...streamCommands,
  ...moreCommands,
};

/** A JS string → its UTF-8 bytes as a latin1 string (one char per byte). */
export function toByteString(s: string): string {
  // ASCII is the same either way; skip the copy.
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, "utf8").toString("latin1");
  }
  return s;
}

/** An internal reply (byte strings) → the shared Reply model (Buffers of those bytes). */
function toBytesReply(r: Reply): Reply {
  if (typeof r === "string") return Buffer.from(r, "latin1");
  if (Array.isArray(r)) return r.map(toBytesReply);
  if (r instanceof RedisError) return new RedisError(Buffer.from(r.message, "latin1").toString("utf8"));
  return r;
}

/** Redis' queue-time checks: unknown command and arity. Null when the command may run. */
export function checkCommand(args: string[]): RedisError | null {
  const name = args[0] ?? "";
  const spec = COMMANDS[name.toLowerCase()];
  if (!spec) {
    const shown = args
      .slice(1)
      .map((a) => `'${a.slice(0, 128)}' `)
      .join("");
    return new RedisError(`ERR unknown command '${name.slice(0, 128)}', with args beginning with: ${shown}`);
  }
  if ((spec.arity > 0 && args.length !== spec.arity) || (spec.arity < 0 && args.length < -spec.arity))
    return new RedisError(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);
  return null;
}

export class MemoryStore {
  readonly db: Db;
  private readonly scripts = new Map<string, string>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly ctx: Ctx;

  constructor(now: () => number = Date.now) {
    this.db = new Db(now);
    this.ctx = { db: this.db, scripts: this.scripts, call: (a) => this.call(a) };
    this.sweeper = setInterval(() => this.db.sweep(), 1000);
    this.sweeper.unref();
  }

  /** Runs one command; errors come back as RedisError values, never thrown. Arguments arrive as
   * JS strings (what JSON carries) and are stored as their UTF-8 bytes, one latin1 char per byte,
   * so every value is a byte string as in Redis (SETBIT, SETRANGE, APPEND can make any bytes);
   * replies leave as Buffers of those bytes. */
  execute(args: string[]): Reply {
    return this.runBytes(args.map(toByteString));
  }

  /** MULTI/EXEC: queue-time errors abort the whole block, runtime errors stay per command. */
  multi(commands: string[][]): Reply[] | RedisError {
    const bytes = commands.map((c) => c.map(toByteString));
    if (bytes.some((c) => checkCommand(c) !== null))
      return new RedisError("EXECABORT Transaction discarded because of previous errors.");
    return bytes.map((c) => this.runBytes(c));
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** execute() over arguments already converted to byte strings. */
  private runBytes(args: string[]): Reply {
    try {
      return toBytesReply(this.call(args));
    } catch (e) {
      if (e instanceof RedisError) return toBytesReply(e);
      throw e;
    }
  }

  private call(args: string[]): Reply {
    const bad = checkCommand(args);
    if (bad) throw bad;
    const spec = COMMANDS[args[0]!.toLowerCase()]!;
    return spec.run(this.ctx, args.slice(1));
  }
}
