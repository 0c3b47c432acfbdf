/**
 * Scripting for the embedded store: EVAL / EVALSHA / EVAL_RO / EVALSHA_RO, SCRIPT LOAD / EXISTS /
 * FLUSH / KILL, FUNCTION LOAD / LIST / DELETE / FLUSH and FCALL / FCALL_RO, all run by a real Lua
 * interpreter (lua.ts: fengari) with Redis 7.0's semantics: redis.call raising and redis.pcall
 * returning the error table, KEYS / ARGV, the Lua ↔ RESP conversions, redis.sha1hex /
 * error_reply / status_reply / log, cjson, read-only globals, Redis' error texts, `#!lua flags=`
 * shebangs and the read-only variants refusing writes. Every script runs synchronously inside one
 * command, so it is atomic like any other command of this store.
 *
 * Besides Redis' shebang flags, `allow-key-locking` is accepted: Upstash knows it and
 * @upstash/ratelimit sends it (lua-flags.ts strips it before a script reaches a real Redis).
 *
 * Known differences from Redis 7.0 (Lua 5.1 with its C libraries):
 * - The interpreter is Lua 5.3: Lua 5.3 syntax and library functions (integer division `//`,
 *   bitwise operators, string.pack, table.move) are accepted where Redis would refuse them;
 *   `string.format('%d', 3.5)` errors; numbers from 1e15 print in full in tostring where 5.1
 *   writes an exponent; integer literals (and arithmetic only between them) stay 32-bit
 *   integers, while numbers from Redis, tonumber, math.floor and math.ceil are doubles as in 5.1.
 * - Error texts are Lua 5.3's, except the common "attempt to index a nil value (field 'b')" and
 *   "near <eof>" forms, which are rewritten in 5.1's words; others differ (5.3 "syntax error near
 *   'x'" where 5.1 says "'=' expected near 'x'").
 * - The libraries bit, struct and cmsgpack are missing; only the Lua-facing part of cjson is
 *   there (no encode_keep_buffer, encode_max_depth ... settings).
 * - Library tables (string, math, table, redis, cjson) are not read-only; only globals are.
 * - A script that runs longer than 10 s is stopped with an error, where Redis would keep it going
 *   and answer BUSY to everyone else until SCRIPT KILL; SCRIPT KILL answers NOTBUSY.
 * - FUNCTION DUMP / RESTORE / STATS / KILL are not implemented.
 */
import { createHash } from "node:crypto";
import { type RedisError, type Reply, Status } from "../reply";
import { err, globMatch, parseInt64 } from "./db";
import { type CallHost, LuaEngine, type LuaFunction, LuaLoadError } from "./lua";
import type { CommandTable, Ctx } from "./types";

export function sha1(text: string): string {
  return createHash("sha1").update(text, "latin1").digest("hex");
}

const NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL.";
const RO_WITH_WRITE_FLAG = "ERR Can not execute a script with write flag using *_ro command.";
const WRITE_IN_RO = "ERR Write commands are not allowed from read-only scripts.";

const REDIS_SCRIPT_FLAGS = new Set([
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
]);
/** Flags this emulator (like Upstash) accepts besides Redis' own. */
const UPSTASH_SCRIPT_FLAGS = new Set(["allow-key-locking"]);

/** Redis commands flagged `write` (those a read-only script may not call). */
const WRITE_COMMANDS = new Set(
  (
    "append bitfield bitop blmove blmpop blpop brpop brpoplpush bzmpop bzpopmax bzpopmin copy decr decrby del " +
    "expire expireat flushall flushdb geoadd georadius georadiusbymember geosearchstore getdel getex getset " +
    "hdel hexpire hexpireat hgetdel hgetex hincrby hincrbyfloat hmset hpersist hpexpire hpexpireat hset hsetex " +
    "hsetnx incr incrby incrbyfloat linsert lmove lmpop lpop lpush lpushx lrem lset ltrim migrate move mset " +
    "msetnx persist pexpire pexpireat pfadd pfcount pfdebug pfmerge psetex rename renamenx restore rpop " +
    "rpoplpush rpush rpushx sadd sdiffstore set setbit setex setnx setrange sinterstore smove sort spop srem " +
    "sunionstore swapdb unlink xack xadd xautoclaim xclaim xdel xgroup xreadgroup xsetid xtrim zadd zdiffstore " +
    "zincrby zinterstore zmpop zpopmax zpopmin zrangestore zrem zremrangebylex zremrangebyrank " +
    "zremrangebyscore zunionstore"
  ).split(" "),
);

/** Commands Redis refuses from scripts (flag `noscript`). */
const NOSCRIPT_COMMANDS = new Set(
  (
    "eval evalsha eval_ro evalsha_ro fcall fcall_ro script function multi exec discard watch unwatch " +
    "subscribe psubscribe ssubscribe unsubscribe punsubscribe sunsubscribe monitor sync psync reset auth " +
    "hello quit shutdown replicaof slaveof"
  ).split(" "),
);

interface ScriptMeta {
  /** The script runs read-only (shebang flags=no-writes). */
  noWrites: boolean;
  /** It has a shebang (so its flags are declared, and EVAL_RO refuses one without no-writes). */
  shebang: boolean;
}

interface Library {
  name: string;
  code: string;
  functions: LuaFunction[];
}

/** What one store keeps for scripting, next to ctx.scripts (SHA1 → script text). */
interface ScriptingState {
  engine: LuaEngine | null;
  meta: Map<string, ScriptMeta>;
  libraries: Map<string, Library>;
  functions: Map<string, { library: Library; fn: LuaFunction }>;
}

const states = new WeakMap<Map<string, string>, ScriptingState>();

function stateOf(ctx: Ctx): ScriptingState {
  let s = states.get(ctx.scripts);
  if (!s) {
    s = { engine: null, meta: new Map(), libraries: new Map(), functions: new Map() };
    states.set(ctx.scripts, s);
  }
  return s;
}

function engineOf(state: ScriptingState): LuaEngine {
  state.engine ??= new LuaEngine();
  return state.engine;
}

/** The first line's shebang: flags, or an error in Redis' words. Body keeps the line count. */
function parseShebang(script: string): { meta: ScriptMeta; body: string } {
  if (!script.startsWith("#!")) return { meta: { noWrites: false, shebang: false }, body: script };
  const eol = script.indexOf("\n");
  const line = eol < 0 ? script : script.slice(0, eol);
  const parts = line.split(" ").filter((p) => p !== "");
  if (parts[0] !== "#!lua") throw err(`ERR Unexpected engine in script shebang: ${parts[0]}`);
  let noWrites = false;
  for (const part of parts.slice(1)) {
    if (!part.startsWith("flags=")) throw err(`ERR Unknown lua shebang option: ${part}`);
    for (const flag of part.slice(6).split(",")) {
      if (flag === "") continue;
      if (!REDIS_SCRIPT_FLAGS.has(flag) && !UPSTASH_SCRIPT_FLAGS.has(flag))
        throw err(`ERR Unexpected flag in script shebang: ${flag}`);
      if (flag === "no-writes") noWrites = true;
    }
  }
  return { meta: { noWrites, shebang: true }, body: eol < 0 ? "" : script.slice(eol) };
}

/** Caches (and compiles) a script; returns its SHA1. */
function loadScript(ctx: Ctx, script: string): string {
  const state = stateOf(ctx);
  const sha = sha1(script);
  if (state.meta.has(sha) && ctx.scripts.has(sha)) return sha;
  const { meta, body } = parseShebang(script);
  try {
    engineOf(state).compile(sha, body);
  } catch (e) {
    if (e instanceof LuaLoadError) throw err(e.message);
    throw e;
  }
  state.meta.set(sha, meta);
  ctx.scripts.set(sha, script);
  return sha;
}

function splitKeys(args: string[]): { keys: string[]; argv: string[] } {
  const numkeys = parseInt64(args[0]!);
  if (numkeys < 0) throw err("ERR Number of keys can't be negative");
  if (numkeys > args.length - 1) throw err("ERR Number of keys can't be greater than number of args");
  return { keys: args.slice(1, 1 + numkeys), argv: args.slice(1 + numkeys) };
}

type Check = (args: string[]) => RedisError | null;

function host(ctx: Ctx, check: Check, readOnly: boolean): CallHost {
  return {
    call: (args) => ctx.call(args),
    refuse(args) {
      const bad = check(args);
      if (bad)
        return bad.message.startsWith("ERR unknown command")
          ? "ERR Unknown Redis command called from script"
          : "ERR Wrong number of args calling Redis command from script";
      const name = args[0]!.toLowerCase();
      if (NOSCRIPT_COMMANDS.has(name)) return "ERR This Redis command is not allowed from script";
      if (readOnly && WRITE_COMMANDS.has(name)) return WRITE_IN_RO;
      return null;
    },
  };
}

function runCached(ctx: Ctx, check: Check, sha: string, args: string[], ro: boolean): Reply {
  const state = stateOf(ctx);
  const meta = state.meta.get(sha);
  if (!meta || !ctx.scripts.has(sha)) throw err(NOSCRIPT);
  const { keys, argv } = splitKeys(args);
  if (ro && meta.shebang && !meta.noWrites) throw err(RO_WITH_WRITE_FLAG);
  return engineOf(state).runScript(sha, keys, argv, {
    name: sha,
    host: host(ctx, check, ro || meta.noWrites),
  });
}

function evalCommand(check: Check, ro: boolean) {
  return {
    arity: -3,
    run(ctx: Ctx, [script, ...rest]: string[]): Reply {
      splitKeys(rest); // Redis checks numkeys before it compiles
      return runCached(ctx, check, loadScript(ctx, script!), rest, ro);
    },
  };
}

function evalshaCommand(check: Check, ro: boolean) {
  return {
    arity: -3,
    run(ctx: Ctx, [sha, ...rest]: string[]): Reply {
      const s = sha!.toLowerCase();
      if (!ctx.scripts.has(s)) throw err(NOSCRIPT);
      return runCached(ctx, check, s, rest, ro);
    },
  };
}

function fcallCommand(check: Check, ro: boolean) {
  return {
    arity: -3,
    run(ctx: Ctx, [name, ...rest]: string[]): Reply {
      const state = stateOf(ctx);
      const found = state.functions.get(name!);
      if (!found) throw err("ERR Function not found");
      const { keys, argv } = splitKeys(rest);
      const noWrites = found.fn.flags.includes("no-writes");
      if (ro && !noWrites) throw err(RO_WITH_WRITE_FLAG);
      return engineOf(state).runFunction(found.fn, keys, argv, {
        name: found.fn.name,
        host: host(ctx, check, noWrites),
      });
    },
  };
}

/** FUNCTION LOAD [REPLACE] code: the library name. */
function functionLoad(ctx: Ctx, args: string[]): Reply {
  let replace = false;
  let rest = args;
  while (rest.length > 1) {
    if (rest[0]!.toUpperCase() !== "REPLACE") throw err(`ERR Unknown option given: ${rest[0]}`);
    replace = true;
    rest = rest.slice(1);
  }
  if (rest.length !== 1) throw err("ERR wrong number of arguments for 'function|load' command");
  const code = rest[0]!;
  if (!code.startsWith("#!")) throw err("ERR Missing library metadata");
  const eol = code.indexOf("\n");
  const parts = (eol < 0 ? code : code.slice(0, eol)).split(" ").filter((p) => p !== "");
  const engine = parts[0]!.slice(2);
  if (engine.toLowerCase() !== "lua") throw err(`ERR Engine '${engine}' not found`);
  let name: string | null = null;
  for (const part of parts.slice(1)) {
    const eq = part.indexOf("=");
    if (eq < 0) throw err(`ERR Invalid metadata value given: ${part}`);
    const [k, v] = [part.slice(0, eq), part.slice(eq + 1)];
    if (k !== "name") throw err(`ERR Invalid metadata value given: ${part}`);
    if (name !== null) throw err("ERR Invalid metadata value, name argument was given multiple times");
    name = v;
  }
  if (name === null) throw err("ERR Library name was not given");
  if (!/^[A-Za-z0-9_]+$/.test(name))
    throw err(
      "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
    );
  const state = stateOf(ctx);
  const existing = state.libraries.get(name);
  if (existing && !replace) throw err(`ERR Library '${name}' already exists`);
  const functions = engineOf(state).loadLibrary(eol < 0 ? "" : code.slice(eol));
  if (functions.length === 0) throw err("ERR No functions registered");
  for (const f of functions) {
    const other = state.functions.get(f.name);
    if (other && other.library.name !== name) {
      engineOf(state).dropFunctions(functions);
      throw err(`ERR Function ${f.name} already exists`);
    }
  }
  if (existing) deleteLibrary(state, existing);
  const library: Library = { name, code, functions };
  state.libraries.set(name, library);
  for (const fn of functions) state.functions.set(fn.name, { library, fn });
  return name;
}

function deleteLibrary(state: ScriptingState, library: Library): void {
  for (const fn of library.functions) state.functions.delete(fn.name);
  state.libraries.delete(library.name);
  engineOf(state).dropFunctions(library.functions);
}

function functionList(ctx: Ctx, args: string[]): Reply {
  let pattern: string | null = null;
  let withCode = false;
  for (let i = 0; i < args.length; i++) {
    const opt = args[i]!.toUpperCase();
    if (opt === "WITHCODE") {
      if (withCode) throw err("ERR Unknown argument withcode");
      withCode = true;
    } else if (opt === "LIBRARYNAME") {
      if (pattern !== null) throw err("ERR library name argument was already given");
      if (i + 1 >= args.length) throw err("ERR library name argument was not given");
      pattern = args[++i]!;
    } else throw err(`ERR Unknown argument ${args[i]}`);
  }
  const out: Reply[] = [];
  for (const lib of stateOf(ctx).libraries.values()) {
    if (pattern !== null && !globMatch(pattern, lib.name)) continue;
    const entry: Reply[] = [
      "library_name",
      lib.name,
      "engine",
      "LUA",
      "functions",
      lib.functions.map((f) => ["name", f.name, "description", f.description, "flags", [...f.flags]]),
    ];
    if (withCode) entry.push("library_code", lib.code);
    out.push(entry);
  }
  return out;
}

/** EVAL & co., SCRIPT, FUNCTION, FCALL & co. `check` is the store's queue-time check (arity,
 * unknown command), which redis.call applies with Redis' script wording. */
export function makeScriptingCommands(check: Check): CommandTable {
  return {
    eval: evalCommand(check, false),
    eval_ro: evalCommand(check, true),
    evalsha: evalshaCommand(check, false),
    evalsha_ro: evalshaCommand(check, true),
    fcall: fcallCommand(check, false),
    fcall_ro: fcallCommand(check, true),
    script: {
      arity: -2,
      run(ctx, [sub, ...rest]) {
        switch (sub!.toUpperCase()) {
          case "LOAD":
            if (rest.length !== 1) throw err("ERR wrong number of arguments for 'script|load' command");
            return loadScript(ctx, rest[0]!);
          case "EXISTS":
            if (rest.length < 1) throw err("ERR wrong number of arguments for 'script|exists' command");
            return rest.map((s) => (ctx.scripts.has(s.toLowerCase()) ? 1 : 0));
          case "FLUSH": {
            if (rest.length > 1) throw err("ERR wrong number of arguments for 'script|flush' command");
            if (rest.length === 1 && !["ASYNC", "SYNC"].includes(rest[0]!.toUpperCase()))
              throw err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            const state = stateOf(ctx);
            state.engine?.forgetAll();
            state.meta.clear();
            ctx.scripts.clear();
            return new Status("OK");
          }
          case "KILL":
            throw err("NOTBUSY No scripts in execution right now.");
          default:
            throw err(`ERR unknown subcommand '${sub}'. Try SCRIPT HELP.`);
        }
      },
    },
    function: {
      arity: -2,
      run(ctx, [sub, ...rest]) {
        const state = stateOf(ctx);
        switch (sub!.toUpperCase()) {
          case "LOAD":
            if (rest.length < 1) throw err("ERR wrong number of arguments for 'function|load' command");
            return functionLoad(ctx, rest);
          case "LIST":
            return functionList(ctx, rest);
          case "DELETE": {
            if (rest.length !== 1) throw err("ERR wrong number of arguments for 'function|delete' command");
            const lib = state.libraries.get(rest[0]!);
            if (!lib) throw err("ERR Library not found");
            deleteLibrary(state, lib);
            return new Status("OK");
          }
          case "FLUSH":
            if (rest.length > 1) throw err("ERR wrong number of arguments for 'function|flush' command");
            if (rest.length === 1 && !["ASYNC", "SYNC"].includes(rest[0]!.toUpperCase()))
              throw err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            for (const lib of [...state.libraries.values()]) deleteLibrary(state, lib);
            return new Status("OK");
          case "KILL":
            throw err("NOTBUSY No scripts in execution right now.");
          default:
            throw err(`ERR unknown subcommand '${sub}'. Try FUNCTION HELP.`);
        }
      },
    },
  };
}
