/**
 * The Lua interpreter behind EVAL / FCALL in the embedded store.
 *
 * Interpreter: fengari (Lua 5.3 written in plain JavaScript), not wasmoon (Lua 5.4 in WebAssembly).
 * The store answers every command synchronously, and that is what makes a script atomic: nothing
 * else runs while it does. fengari creates its state and runs a chunk synchronously, so a store can
 * build its interpreter on first use, inside the command that needs it. wasmoon's `doStringSync`
 * runs synchronously too, but its engine (the WebAssembly module) is only created asynchronously,
 * which would make MemoryStore's construction, or the first EVAL, asynchronous. fengari's Lua
 * strings are byte arrays, so scripts, keys, arguments and replies stay binary-safe (the store's
 * byte strings are latin1 JS strings, one char per byte).
 *
 * Redis runs Lua 5.1, where every number is a double. fengari has 32-bit integers besides floats,
 * so, to keep 5.1's arithmetic (no 32-bit wrap-around on timestamps and counters), everything a
 * script gets from Redis or from tonumber / math.floor / math.ceil is a float, and integral floats
 * print without ".0" (LUA_COMPAT_FLOATSTRING). What is not emulated is listed in scripts.ts.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { RedisError, type Reply, Status } from "../reply";

// fengari ships no type declarations.
// biome-ignore lint/suspicious/noExplicitAny: untyped JS library
type Any = any;

const fengari: Any = (() => {
  // luaconf reads FENGARICONF once, when it is first required.
  const saved = process.env.FENGARICONF;
  process.env.FENGARICONF = JSON.stringify({ LUA_COMPAT_FLOATSTRING: true });
  try {
    return createRequire(import.meta.url)("fengari");
  } finally {
    if (saved === undefined) delete process.env.FENGARICONF;
    else process.env.FENGARICONF = saved;
  }
})();
const lua: Any = fengari.lua;
const lauxlib: Any = fengari.lauxlib;
const lualib: Any = fengari.lualib;

/** A byte string (latin1) → a Lua string. */
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));
/** A Lua string → a byte string. */
const latin1 = (u: Uint8Array): string =>
  Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString("latin1");

/** C's printf "%.<prec>g" (what Lua 5.1 and Redis use to print numbers). */
export function formatG(n: number, prec: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  const exp = Number(n.toExponential(prec - 1).split("e")[1]);
  if (exp < -4 || exp >= prec) {
    const [m, e] = n.toExponential(prec - 1).split("e") as [string, string];
    const mant = m.includes(".") ? m.replace(/\.?0+$/, "") : m;
    const ev = Number(e);
    return `${mant}e${ev < 0 ? "-" : "+"}${String(Math.abs(ev)).padStart(2, "0")}`;
  }
  const f = n.toFixed(Math.max(0, prec - 1 - exp));
  return f.includes(".") ? f.replace(/\.?0+$/, "") : f;
}

/** A Lua number as a Redis integer reply: C's (long long) cast of a double. */
function toInteger(n: number): number {
  if (!Number.isFinite(n) || Math.abs(n) >= 2 ** 63) return -(2 ** 63);
  return Math.trunc(n) || 0;
}

/** The cjson.null sentinel. */
const JSON_NULL = { cjsonNull: true };

/** What a script's redis.call runs on, and under which rules. */
export interface CallHost {
  /** Runs one command (byte strings); throws RedisError for an error reply. */
  call(args: string[]): Reply;
  /** Why the command may not run from a script (unknown, arity, not allowed, write in a read-only
   * script), or null. */
  refuse(args: string[]): string | null;
}

export interface RunOptions {
  /** How Redis names the script in errors: its SHA1 (EVAL) or the function name (FCALL). */
  name: string;
  host: CallHost;
}

/** A failure to compile or load: the reply is `message` as is. */
export class LuaLoadError extends Error {}

/** The Lua that builds the sandbox; runs once per interpreter with the JS primitives as `...`. */
const PRELUDE = `
local P = ...
local getinfo = debug.getinfo
local type, tostring, rawget, pack, unpack = type, tostring, rawget, table.pack, table.unpack
local mtype, floor, ceil, tonum = math.type, math.floor, math.ceil, tonumber
-- Lua 5.1 numbers are all doubles (see lua.ts)
local function flt(n) if mtype(n) == 'integer' then return n + 0.0 end return n end
math.floor = function(x) return flt(floor(x)) end
math.ceil = function(x) return flt(ceil(x)) end
tonumber = function(...) local n = tonum(...) if n == nil then return nil end return flt(n) end
-- Lua 5.1 names
_G.unpack = unpack
local load = load
_G.loadstring = function(s, name) return load(s, name, 't') end
math.pow = function(a, b) return a ^ b end
math.mod = math.fmod
table.getn = function(t) return #t end
-- In Redis 7, an error object {err=...} caught by pcall is its message.
local rawpcall = pcall
pcall = function(f, ...)
  local r = pack(rawpcall(f, ...))
  if not r[1] and type(r[2]) == 'table' and type(rawget(r[2], 'err')) == 'string' then r[2] = r[2].err end
  return unpack(r, 1, r.n)
end
-- Nothing that reaches the host.
dofile, loadfile, require, print, collectgarbage, module, package, io, os, debug, utf8, coroutine =
  nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil

local function error_reply(e)
  if type(e) ~= 'string' then P.raise('ERR wrong number or type of arguments') end
  return P.error_table(e)
end
local redis = {
  call = P.call, pcall = P.pcall, sha1hex = P.sha1hex,
  error_reply = error_reply,
  status_reply = function(s)
    if type(s) ~= 'string' then P.raise('ERR wrong number or type of arguments') end
    return {ok = s}
  end,
  log = function() end, setresp = function() end, set_repl = function() end,
  replicate_commands = function() return true end, breakpoint = function() return false end,
  debug = function() end,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  REDIS_VERSION = '7.0.15', REDIS_VERSION_NUM = 0x07000f,
}
_G.redis = redis
_G.cjson = { encode = P.json_encode, decode = P.json_decode, null = P.json_null }

-- What a library sees while FUNCTION LOAD runs it.
local load_redis = {
  register_function = P.register_function, log = redis.log, setresp = redis.setresp,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}
setmetatable(load_redis, { __index = P.guard_index, __newindex = P.guard_newindex })

-- Redis' error handler: the error as a table {err=, source=, line=} naming the script's line.
local function handler(err)
  local i = getinfo(2, 'nSl')
  if i and (i.what == 'C' or i.what == 'J') then i = getinfo(3, 'nSl') end -- fengari: 'J'
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)}
  elseif type(rawget(err, 'err')) ~= 'string' then err = {err = 'ERR ' .. tostring(err)} end
  if i and i.currentline and i.currentline >= 0 then err.source = i.source; err.line = i.currentline end
  return err
end

-- Globals are read-only; reading a missing one is an error.
setmetatable(_G, { __index = P.guard_index, __newindex = P.guard_newindex })
return handler, load_redis
`;

interface Compiled {
  ref: number;
}

export interface LuaFunction {
  name: string;
  ref: number;
  flags: string[];
  description: string | null;
}

/** One Lua state: the store's scripts and function libraries all run in it. */
export class LuaEngine {
  private readonly L: Any;
  private readonly handlerRef: number;
  private readonly loadRedisRef: number;
  private readonly compiled = new Map<string, Compiled>();
  private host: CallHost | null = null;
  /** Functions registered by the library being loaded. */
  private registering: LuaFunction[] | null = null;
  private deadline = 0;

  constructor() {
    const L = lauxlib.luaL_newstate();
    this.L = L;
    for (const [name, open] of [
      ["_G", lualib.luaopen_base],
      ["table", lualib.luaopen_table],
      ["string", lualib.luaopen_string],
      ["math", lualib.luaopen_math],
      ["debug", lualib.luaopen_debug],
    ] as const) {
      lauxlib.luaL_requiref(L, fengari.to_luastring(name), open, 1);
      lua.lua_pop(L, 1);
    }
    if (
      lauxlib.luaL_loadbuffer(L, fengari.to_luastring(PRELUDE), null, fengari.to_luastring("=prelude")) !== 0
    )
      throw new Error(`Lua prelude: ${this.popString()}`);
    lua.lua_newtable(L);
    const fns: Record<string, (L: Any) => number> = {
      call: (L) => this.redisCall(L, true),
      pcall: (L) => this.redisCall(L, false),
      sha1hex: (L) => {
        if (lua.lua_gettop(L) !== 1) return this.raise(L, "wrong number of arguments");
        const s = lauxlib.luaL_tolstring(L, 1);
        lua.lua_pushstring(L, fengari.to_luastring(createHash("sha1").update(s).digest("hex")));
        return 1;
      },
      raise: (L) => {
        const m = lua.lua_tolstring(L, 1);
        lua.lua_settop(L, 0);
        return this.throwErrorTable(L, latin1(m));
      },
      error_table: (L) => {
        // redis.error_reply prefixes "-": its first word is the error code ("ERR" when alone).
        const raw = latin1(lua.lua_tolstring(L, 1));
        this.pushErrorTable(L, errorTableMessage(raw.startsWith("-") ? raw : `-${raw}`));
        return 1;
      },
      json_encode: (L) => {
        if (lua.lua_gettop(L) !== 1)
          return this.raise(L, "bad argument #1 to 'encode' (expected 1 argument)");
        try {
          lua.lua_pushstring(L, bytes(this.jsonEncode(L, 1, 0)));
        } catch (e) {
          return this.raise(L, (e as Error).message);
        }
        return 1;
      },
      json_decode: (L) => {
        if (lua.lua_type(L, 1) !== lua.LUA_TSTRING && lua.lua_type(L, 1) !== lua.LUA_TNUMBER)
          return this.raise(L, "bad argument #1 to 'decode' (string expected)");
        let value: unknown;
        try {
          value = new JsonReader(latin1(lua.lua_tolstring(L, 1))).document();
        } catch (e) {
          return this.raise(L, (e as Error).message);
        }
        this.pushJson(L, value);
        return 1;
      },
      guard_index: (L) => {
        const k = lua.lua_type(L, 2) === lua.LUA_TSTRING ? latin1(lua.lua_tolstring(L, 2)) : "?";
        return this.raise(L, `Script attempted to access nonexistent global variable '${k}'`);
      },
      guard_newindex: (L) => this.raise(L, "Attempt to modify a readonly table"),
      register_function: (L) => this.registerFunction(L),
    };
    for (const [k, f] of Object.entries(fns)) {
      lua.lua_pushcfunction(L, f);
      lua.lua_setfield(L, -2, fengari.to_luastring(k));
    }
    lua.lua_pushlightuserdata(L, JSON_NULL);
    lua.lua_setfield(L, -2, fengari.to_luastring("json_null"));
    if (lua.lua_pcall(L, 1, 2, 0) !== 0) throw new Error(`Lua prelude: ${this.popString()}`);
    this.loadRedisRef = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    this.handlerRef = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    // A runaway script would hang the emulator for good: stop it after a while, with an error.
    lua.lua_sethook(
      L,
      (L: Any) => {
        if (this.deadline && Date.now() > this.deadline) {
          this.deadline = 0;
          this.throwErrorTable(
            L,
            "ERR Script killed by the local Upstash emulator: it ran longer than 10 s (Redis would answer BUSY to every other client until SCRIPT KILL)",
          );
        }
      },
      lua.LUA_MASKCOUNT,
      100000,
    );
  }

  /** Compiles an EVAL body (once per SHA1). Throws LuaLoadError with Redis' message. */
  compile(sha: string, body: string): void {
    if (this.compiled.has(sha)) return;
    const L = this.L;
    const b = bytes(body);
    if (lauxlib.luaL_loadbuffer(L, b, b.length, fengari.to_luastring("@user_script")) !== 0)
      throw new LuaLoadError(`ERR Error compiling script (new function): ${lua51Wording(this.popString())}`);
    this.compiled.set(sha, { ref: lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX) });
  }

  forget(sha: string): void {
    const c = this.compiled.get(sha);
    if (c) lauxlib.luaL_unref(this.L, lua.LUA_REGISTRYINDEX, c.ref);
    this.compiled.delete(sha);
  }

  forgetAll(): void {
    for (const sha of [...this.compiled.keys()]) this.forget(sha);
  }

  /** Runs a compiled EVAL script with KEYS / ARGV set; errors are thrown as RedisError. */
  runScript(sha: string, keys: string[], argv: string[], opts: RunOptions): Reply {
    const L = this.L;
    const c = this.compiled.get(sha);
    if (!c) throw new RedisError("NOSCRIPT No matching script. Please use EVAL.");
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, lua.LUA_RIDX_GLOBALS);
    lua.lua_pushstring(L, fengari.to_luastring("KEYS"));
    this.pushStrings(L, keys);
    lua.lua_rawset(L, -3);
    lua.lua_pushstring(L, fengari.to_luastring("ARGV"));
    this.pushStrings(L, argv);
    lua.lua_rawset(L, -3);
    lua.lua_pop(L, 1);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, c.ref);
    return this.invoke(0, opts);
  }

  /** Runs a function registered by FUNCTION LOAD with (keys, args). */
  runFunction(fn: LuaFunction, keys: string[], argv: string[], opts: RunOptions): Reply {
    const L = this.L;
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, fn.ref);
    this.pushStrings(L, keys);
    this.pushStrings(L, argv);
    return this.invoke(2, opts);
  }

  /**
   * Runs a library's code (FUNCTION LOAD) and returns the functions it registered. `body` is the
   * code with its shebang line blanked. Throws RedisError with Redis' message.
   */
  loadLibrary(body: string): LuaFunction[] {
    const L = this.L;
    const b = bytes(body);
    if (lauxlib.luaL_loadbuffer(L, b, b.length, fengari.to_luastring("@user_function")) !== 0)
      throw new RedisError(`ERR Error compiling function: ${lua51Wording(this.popString())}`);
    // While the library runs, `redis` is the load-time API (register_function, log).
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, lua.LUA_RIDX_GLOBALS);
    lua.lua_getfield(L, -1, fengari.to_luastring("redis"));
    const savedRedis = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    lua.lua_pushstring(L, fengari.to_luastring("redis"));
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.loadRedisRef);
    lua.lua_rawset(L, -3);
    lua.lua_pop(L, 1);
    const registered: LuaFunction[] = [];
    this.registering = registered;
    let failure: string | null = null;
    try {
      this.deadline = Date.now() + 10_000;
      if (lua.lua_pcall(L, 0, 0, 0) !== 0) {
        if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
          lua.lua_getfield(L, -1, fengari.to_luastring("err"));
          lua.lua_remove(L, -2);
        }
        failure = this.popString();
        if (!/^[A-Z]+ /.test(failure)) failure = `ERR ${failure}`;
      }
    } finally {
      this.deadline = 0;
      this.registering = null;
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, lua.LUA_RIDX_GLOBALS);
      lua.lua_pushstring(L, fengari.to_luastring("redis"));
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, savedRedis);
      lua.lua_rawset(L, -3);
      lua.lua_pop(L, 1);
      lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, savedRedis);
    }
    if (failure !== null) {
      this.dropFunctions(registered);
      throw new RedisError(`ERR Error registering functions: ${failure}`);
    }
    return registered;
  }

  dropFunctions(fns: LuaFunction[]): void {
    for (const f of fns) lauxlib.luaL_unref(this.L, lua.LUA_REGISTRYINDEX, f.ref);
  }

  // ---- internals ----

  /** Calls the function on the stack (under `nargs` arguments) through the error handler. */
  private invoke(nargs: number, opts: RunOptions): Reply {
    const L = this.L;
    const base = lua.lua_gettop(L) - nargs; // the function's slot
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.handlerRef);
    lua.lua_insert(L, base);
    const previous = this.host;
    this.host = opts.host;
    this.deadline = Date.now() + 10_000;
    try {
      const status = lua.lua_pcall(L, nargs, 1, base);
      if (status !== 0) throw this.scriptError(L, -1, opts.name);
      const reply = this.toReply(L, -1);
      if (reply instanceof RedisError) throw reply;
      return reply;
    } finally {
      this.host = previous;
      this.deadline = 0;
      lua.lua_settop(L, base - 1);
    }
  }

  /** The error value at `idx` (as the handler shaped it) → Redis' error reply. */
  private scriptError(L: Any, idx: number, name: string): RedisError {
    if (lua.lua_type(L, idx) !== lua.LUA_TTABLE) {
      const s =
        lua.lua_type(L, idx) === lua.LUA_TSTRING ? latin1(lua.lua_tolstring(L, idx)) : "unknown error";
      return new RedisError(`ERR ${s}`);
    }
    const field = (k: string): string | null => {
      lua.lua_getfield(L, idx, fengari.to_luastring(k));
      const v = lua.lua_isstring(L, -1) ? latin1(lua.lua_tolstring(L, -1)) : null;
      lua.lua_pop(L, 1);
      return v;
    };
    const msg = lua51Wording((field("err") ?? "ERR unknown error").replace(/[\r\n]+$/, ""));
    const source = field("source");
    const line = field("line");
    if (source === null || line === null) return new RedisError(msg);
    return new RedisError(`${msg} script: ${name}, on ${source}:${formatG(Number(line), 14)}.`);
  }

  /** redis.call (raise = true) and redis.pcall. */
  private redisCall(L: Any, raise: boolean): number {
    const n = lua.lua_gettop(L);
    const fail = (msg: string): number => {
      if (raise) return this.throwErrorTable(L, msg);
      lua.lua_settop(L, 0);
      this.pushErrorTable(L, msg);
      return 1;
    };
    if (n === 0) return fail("ERR Please specify at least one argument for this redis lib call");
    const args: string[] = [];
    for (let i = 1; i <= n; i++) {
      const t = lua.lua_type(L, i);
      if (t === lua.LUA_TNUMBER) args.push(formatG(lua.lua_tonumber(L, i), 17));
      else if (t === lua.LUA_TSTRING) args.push(latin1(lua.lua_tolstring(L, i)));
      else return fail("ERR Lua redis lib command arguments must be strings or integers");
    }
    const host = this.host;
    if (!host) return fail("ERR redis.call is not available here");
    const refused = host.refuse(args);
    if (refused) return fail(refused);
    let reply: Reply;
    try {
      reply = host.call(args);
    } catch (e) {
      if (e instanceof RedisError) return fail(errorTableMessage(`-${e.message}`));
      return fail(`ERR ${(e as Error).message}`);
    }
    lua.lua_settop(L, 0);
    this.pushReply(L, reply);
    return 1;
  }

  /** redis.register_function('name', fn) or redis.register_function{function_name=, callback=, flags=, description=}. */
  private registerFunction(L: Any): number {
    const into = this.registering;
    if (!into)
      return this.raise(L, "ERR redis.register_function can only be called on FUNCTION LOAD command");
    let name: string | null = null;
    let flags: string[] = [];
    let description: string | null = null;
    let fnIndex: number;
    if (lua.lua_gettop(L) === 1 && lua.lua_type(L, 1) === lua.LUA_TTABLE) {
      lua.lua_getfield(L, 1, fengari.to_luastring("function_name"));
      if (lua.lua_type(L, -1) === lua.LUA_TSTRING) name = latin1(lua.lua_tolstring(L, -1));
      lua.lua_getfield(L, 1, fengari.to_luastring("description"));
      if (lua.lua_type(L, -1) === lua.LUA_TSTRING) description = latin1(lua.lua_tolstring(L, -1));
      lua.lua_getfield(L, 1, fengari.to_luastring("flags"));
      if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
        for (let i = 1; ; i++) {
          if (lua.lua_rawgeti(L, -1, i) === lua.LUA_TNIL) {
            lua.lua_pop(L, 1);
            break;
          }
          const f = lua.lua_type(L, -1) === lua.LUA_TSTRING ? latin1(lua.lua_tolstring(L, -1)) : "";
          lua.lua_pop(L, 1);
          if (!FUNCTION_FLAGS.has(f)) return this.raise(L, "unknown flag given");
          flags.push(f);
        }
      }
      lua.lua_getfield(L, 1, fengari.to_luastring("callback"));
      fnIndex = lua.lua_gettop(L);
    } else if (lua.lua_gettop(L) === 2) {
      if (lua.lua_type(L, 1) === lua.LUA_TSTRING) name = latin1(lua.lua_tolstring(L, 1));
      fnIndex = 2;
    } else {
      return this.raise(L, "wrong number of arguments to redis.register_function");
    }
    if (name === null)
      return this.raise(L, "function_name argument given to redis.register_function must be a string");
    if (lua.lua_type(L, fnIndex) !== lua.LUA_TFUNCTION)
      return this.raise(L, "callback argument given to redis.register_function must be a function");
    if (!/^[A-Za-z0-9_]+$/.test(name))
      return this.raise(
        L,
        "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
      );
    if (into.some((f) => f.name === name)) return this.raise(L, "Function already exists in the library");
    lua.lua_pushvalue(L, fnIndex);
    const ref = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    flags = [...new Set(flags)];
    into.push({ name, ref, flags, description });
    return 0;
  }

  /** Raises a Lua error {err = msg} (Redis' error object). */
  private throwErrorTable(L: Any, msg: string): number {
    this.pushErrorTable(L, msg);
    return lua.lua_error(L);
  }

  private pushErrorTable(L: Any, msg: string): void {
    lua.lua_createtable(L, 0, 1);
    lua.lua_pushstring(L, bytes(msg));
    lua.lua_setfield(L, -2, fengari.to_luastring("err"));
  }

  /** Raises a plain Lua error with the caller's position (luaL_error). */
  private raise(L: Any, msg: string): number {
    lauxlib.luaL_where(L, 1);
    lua.lua_pushstring(L, bytes(msg));
    lua.lua_concat(L, 2);
    return lua.lua_error(L);
  }

  private popString(): string {
    const L = this.L;
    const s = lua.lua_isstring(L, -1) ? latin1(lua.lua_tolstring(L, -1)) : "(error object is not a string)";
    lua.lua_pop(L, 1);
    return s;
  }

  private pushStrings(L: Any, list: string[]): void {
    lua.lua_createtable(L, list.length, 0);
    list.forEach((s, i) => {
      lua.lua_pushstring(L, bytes(s));
      lua.lua_rawseti(L, -2, i + 1);
    });
  }

  /** A Redis reply → Lua (Redis' redisProtocolToLuaType, RESP2). */
  private pushReply(L: Any, r: Reply): void {
    lauxlib.luaL_checkstack(L, 4, null);
    if (r === null) lua.lua_pushboolean(L, false);
    else if (typeof r === "number") lua.lua_pushnumber(L, r);
    else if (typeof r === "string") lua.lua_pushstring(L, bytes(r));
    else if (Buffer.isBuffer(r)) lua.lua_pushstring(L, new Uint8Array(r));
    else if (r instanceof Status) {
      lua.lua_createtable(L, 0, 1);
      lua.lua_pushstring(L, bytes(r.value));
      lua.lua_setfield(L, -2, fengari.to_luastring("ok"));
    } else if (r instanceof RedisError) this.pushErrorTable(L, r.message);
    else {
      lua.lua_createtable(L, r.length, 0);
      r.forEach((item, i) => {
        this.pushReply(L, item);
        lua.lua_rawseti(L, -2, i + 1);
      });
    }
  }

  /** A Lua value → a Redis reply (Redis' luaReplyToRedisReply). */
  private toReply(L: Any, idx: number): Reply {
    const i = lua.lua_absindex(L, idx);
    switch (lua.lua_type(L, i)) {
      case lua.LUA_TSTRING:
        return latin1(lua.lua_tolstring(L, i));
      case lua.LUA_TBOOLEAN:
        return lua.lua_toboolean(L, i) ? 1 : null;
      case lua.LUA_TNUMBER:
        return toInteger(lua.lua_tonumber(L, i));
      case lua.LUA_TTABLE: {
        lauxlib.luaL_checkstack(L, 4, null);
        lua.lua_getfield(L, i, fengari.to_luastring("err"));
        if (lua.lua_type(L, -1) === lua.LUA_TSTRING) {
          const e = new RedisError(latin1(lua.lua_tolstring(L, -1)).replace(/[\r\n]+$/, ""));
          lua.lua_pop(L, 1);
          return e;
        }
        lua.lua_pop(L, 1);
        lua.lua_getfield(L, i, fengari.to_luastring("ok"));
        if (lua.lua_type(L, -1) === lua.LUA_TSTRING) {
          const s = new Status(latin1(lua.lua_tolstring(L, -1)).replace(/[\r\n]+$/, ""));
          lua.lua_pop(L, 1);
          return s;
        }
        lua.lua_pop(L, 1);
        const out: Reply[] = [];
        for (let j = 1; ; j++) {
          if (lua.lua_rawgeti(L, i, j) === lua.LUA_TNIL) {
            lua.lua_pop(L, 1);
            break;
          }
          out.push(this.toReply(L, -1));
          lua.lua_pop(L, 1);
        }
        return out;
      }
      default:
        return null;
    }
  }

  /** cjson.encode (Redis' lua-cjson: numbers "%.14g", "/" escaped, arrays by their integer keys). */
  private jsonEncode(L: Any, idx: number, depth: number): string {
    const i = lua.lua_absindex(L, idx);
    switch (lua.lua_type(L, i)) {
      case lua.LUA_TNIL:
        return "null";
      case lua.LUA_TBOOLEAN:
        return lua.lua_toboolean(L, i) ? "true" : "false";
      case lua.LUA_TNUMBER: {
        const n = lua.lua_tonumber(L, i);
        if (!Number.isFinite(n)) throw new Error("Cannot serialise number: must not be NaN or Inf");
        return formatG(n, 14);
      }
      case lua.LUA_TSTRING:
        return jsonString(latin1(lua.lua_tolstring(L, i)));
      case lua.LUA_TLIGHTUSERDATA:
        if (lua.lua_touserdata(L, i) === JSON_NULL) return "null";
        throw new Error("Cannot serialise userdata: type not supported");
      case lua.LUA_TTABLE: {
        if (depth >= 1000) throw new Error("Cannot serialise, excessive nesting (1001)");
        lauxlib.luaL_checkstack(L, 6, null);
        // An array when every key is a positive integer (lua-cjson, without its sparse-array check).
        let max = 0;
        let count = 0;
        let isArray = true;
        lua.lua_pushnil(L);
        while (lua.lua_next(L, i) !== 0) {
          lua.lua_pop(L, 1);
          const t = lua.lua_type(L, -1);
          const k = t === lua.LUA_TNUMBER ? lua.lua_tonumber(L, -1) : Number.NaN;
          if (Number.isInteger(k) && k >= 1) {
            max = Math.max(max, k);
            count++;
          } else isArray = false;
        }
        if (isArray && count > 0 && max <= count * 2 + 10) {
          const parts: string[] = [];
          for (let j = 1; j <= max; j++) {
            lua.lua_rawgeti(L, i, j);
            parts.push(this.jsonEncode(L, -1, depth + 1));
            lua.lua_pop(L, 1);
          }
          return `[${parts.join(",")}]`;
        }
        if (isArray && count > 0) throw new Error("Cannot serialise table: excessively sparse array");
        const parts: string[] = [];
        lua.lua_pushnil(L);
        while (lua.lua_next(L, i) !== 0) {
          const kt = lua.lua_type(L, -2);
          let key: string;
          if (kt === lua.LUA_TSTRING) key = latin1(lua.lua_tolstring(L, -2));
          else if (kt === lua.LUA_TNUMBER) key = formatG(lua.lua_tonumber(L, -2), 14);
          else throw new Error("Cannot serialise table: table key must be a number or string");
          parts.push(`${jsonString(key)}:${this.jsonEncode(L, -1, depth + 1)}`);
          lua.lua_pop(L, 1);
        }
        return `{${parts.join(",")}}`;
      }
      default:
        throw new Error(
          `Cannot serialise ${latin1(lua.lua_typename(L, lua.lua_type(L, i)))}: type not supported`,
        );
    }
  }

  private pushJson(L: Any, v: unknown): void {
    lauxlib.luaL_checkstack(L, 4, null);
    if (v === null) lua.lua_pushlightuserdata(L, JSON_NULL);
    else if (typeof v === "boolean") lua.lua_pushboolean(L, v);
    else if (typeof v === "number") lua.lua_pushnumber(L, v);
    else if (typeof v === "string") lua.lua_pushstring(L, bytes(v));
    else if (Array.isArray(v)) {
      lua.lua_createtable(L, v.length, 0);
      v.forEach((item, i) => {
        this.pushJson(L, item);
        lua.lua_rawseti(L, -2, i + 1);
      });
    } else {
      const entries = [...(v as Map<string, unknown>).entries()];
      lua.lua_createtable(L, 0, entries.length);
      for (const [k, item] of entries) {
        lua.lua_pushstring(L, bytes(k));
        this.pushJson(L, item);
        lua.lua_rawset(L, -3);
      }
    }
  }
}

const FUNCTION_FLAGS = new Set([
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
]);

/** Lua 5.3's "attempt to index a nil value (field 'b')" and "near <eof>" in Lua 5.1's words, as
 * Redis says them. */
function lua51Wording(msg: string): string {
  return msg
    .replace(/ near <eof>$/, " near '<eof>'")
    .replace(
      /attempt to (.+?) an? (\w+) value \((global|local|field|upvalue|method) '([^']*)'\)/,
      (_, what: string, type: string, kind: string, name: string) =>
        `attempt to ${what} ${kind} '${name}' (a${/^[aeiou]/.test(type) ? "n" : ""} ${type} value)`,
    );
}

/** redis.error_reply / command errors: "-CODE msg" or "msg" → "CODE msg" (Redis' luaPushErrorBuff). */
function errorTableMessage(raw: string): string {
  let code = "ERR";
  let msg = raw;
  if (raw.startsWith("-")) {
    const sp = raw.indexOf(" ");
    if (sp < 0) msg = raw.slice(1);
    else {
      code = raw.slice(1, sp);
      msg = raw.slice(sp + 1);
    }
  }
  return `${code} ${msg.replace(/^[\r\n]+|[\r\n]+$/g, "")}`;
}

/** A byte string as a JSON string the way lua-cjson writes it (bytes ≥ 0x80 as they are). */
function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "/") out += "\\/";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** JSON over a byte string; objects come back as Maps (key order kept), strings as byte strings. */
class JsonReader {
  private i = 0;
  constructor(private readonly s: string) {}

  document(): unknown {
    const v = this.value(0);
    this.ws();
    if (this.i < this.s.length) this.fail("the end");
    return v;
  }

  private fail(expected: string): never {
    throw new Error(`Expected ${expected} but found invalid token at character ${this.i + 1}`);
  }

  private ws(): void {
    while (this.i < this.s.length && " \t\r\n".includes(this.s[this.i]!)) this.i++;
  }

  private value(depth: number): unknown {
    if (depth > 1000) throw new Error("Found too many nested data structures (1001)");
    this.ws();
    const c = this.s[this.i];
    if (c === "{") {
      this.i++;
      const m = new Map<string, unknown>();
      this.ws();
      if (this.s[this.i] === "}") {
        this.i++;
        return m;
      }
      for (;;) {
        this.ws();
        if (this.s[this.i] !== '"') this.fail("object key string");
        const k = this.string();
        this.ws();
        if (this.s[this.i] !== ":") this.fail("colon");
        this.i++;
        m.set(k, this.value(depth + 1));
        this.ws();
        if (this.s[this.i] === ",") this.i++;
        else if (this.s[this.i] === "}") {
          this.i++;
          return m;
        } else this.fail("comma or object end");
      }
    }
    if (c === "[") {
      this.i++;
      const a: unknown[] = [];
      this.ws();
      if (this.s[this.i] === "]") {
        this.i++;
        return a;
      }
      for (;;) {
        a.push(this.value(depth + 1));
        this.ws();
        if (this.s[this.i] === ",") this.i++;
        else if (this.s[this.i] === "]") {
          this.i++;
          return a;
        } else this.fail("comma or array end");
      }
    }
    if (c === '"') return this.string();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail("value");
    this.i += m[0].length;
    return Number(m[0]);
  }

  private string(): string {
    this.i++; // opening quote
    let out = "";
    for (;;) {
      if (this.i >= this.s.length) this.fail("string end");
      const ch = this.s[this.i++]!;
      if (ch === '"') return out;
      if (ch !== "\\") {
        out += ch;
        continue;
      }
      const e = this.s[this.i++];
      const simple: Record<string, string> = {
        '"': '"',
        "\\": "\\",
        "/": "/",
        b: "\b",
        f: "\f",
        n: "\n",
        r: "\r",
        t: "\t",
      };
      if (e !== undefined && e in simple) out += simple[e];
      else if (e === "u") {
        let cp = Number.parseInt(this.s.slice(this.i, this.i + 4), 16);
        if (!/^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i, this.i + 4))) this.fail("unicode escape");
        this.i += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && this.s.startsWith("\\u", this.i)) {
          const lo = Number.parseInt(this.s.slice(this.i + 2, this.i + 6), 16);
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            this.i += 6;
          }
        }
        out += Buffer.from(String.fromCodePoint(cp), "utf8").toString("latin1");
      } else this.fail("escape");
    }
  }
}
