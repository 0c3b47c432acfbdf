/**
 * Lua scripting in the local Upstash Redis emulator (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT,
 * FUNCTION, FCALL, FCALL_RO), seen through the official @upstash/redis client against both stores
 * (the embedded store's Lua interpreter and a real redis-server behind the emulator), with both
 * response encodings (base64, the client's default, and none); then differentially: the same raw
 * commands through the emulator's REST surface over each store must answer identically.
 *
 * Uses logical db 7 (not yet named in REDIS_TEST_DB); keys, script texts and function names are
 * unique per run and nothing is flushed except the script cache (SCRIPT FLUSH is server-wide on a
 * real Redis, as the main conformance suite already does; ratelimit falls back to EVAL).
 *
 * Never `error({})` with a table that has no `err` field here: redis-server 7.0 crashes on it.
 */
import { createHash } from "node:crypto";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis/index";
import { ratelimitScripts } from "../harness/ratelimit-scripts";
import { REDIS_TEST_DB, testRedisBackends } from "../harness/redis";
import { ask, type EmulatorPair, startEmulatorPair } from "../harness/redis-differential";

const LUA_TEST_DB = REDIS_TEST_DB.lua;
const backends = await testRedisBackends();
const rlScripts = await ratelimitScripts();
const run = `lua-${process.pid}-${Date.now()}`;

const sha1 = (s: string) => createHash("sha1").update(s, "utf8").digest("hex");

/** The error text the emulator answered (the client appends ", command was: ..."). */
async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message.replace(/^Command failed: /, "").replace(/, command was: [\s\S]*$/, "");
  }
  throw new Error("expected the command to fail");
}

function client(emu: UpstashRedisEmulator, encoding: "base64" | false): Redis {
  return new Redis({
    url: emu.url,
    token: emu.token,
    responseEncoding: encoding,
    retry: false,
    enableTelemetry: false,
    // Replies as the server sent them: "0.10000000000000001" stays a string.
    automaticDeserialization: false,
  });
}

describe.each(backends)("Lua scripting over $name", ({ name, redisUrl, skip }) => {
  let emu: UpstashRedisEmulator;

  beforeAll(async () => {
    if (skip) return;
    emu = await startUpstashRedis({ port: 0, hostname: "127.0.0.1", redisUrl: redisUrl(LUA_TEST_DB) });
  });
  afterAll(async () => {
    await emu?.close();
  });

  describe.each([
    { encoding: "base64" as const, p: "b64" },
    { encoding: false as const, p: "raw" },
  ])("with responseEncoding $encoding", ({ encoding, p }) => {
    let redis: Redis;
    const k = (s: string) => `${run}:${name}:${p}:${s}`;
    beforeAll(() => {
      if (!skip) redis = client(emu, encoding);
    });

    it.skipIf(skip)("redis.call errors and runtime errors fail the script, in Redis' words", async () => {
      await redis.set(k("str"), "abc");
      const incr = `return redis.call('incr', KEYS[1]) -- ${p}`;
      expect(await errorOf(redis.eval(incr, [k("str")], []))).toBe(
        `ERR value is not an integer or out of range script: ${sha1(incr)}, on @user_script:1.`,
      );
      const arith = `local a = 1\nreturn a + nil -- ${p}`;
      expect(await errorOf(redis.eval(arith, [], []))).toBe(
        `ERR user_script:2: attempt to perform arithmetic on a nil value script: ${sha1(arith)}, on @user_script:2.`,
      );
      const global = `return x -- ${p}`;
      expect(await errorOf(redis.eval(global, [], []))).toBe(
        `ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: ${sha1(global)}, on @user_script:1.`,
      );
      const assign = `x = 1 -- ${p}`;
      expect(await errorOf(redis.eval(assign, [], []))).toBe(
        `ERR user_script:1: Attempt to modify a readonly table script: ${sha1(assign)}, on @user_script:1.`,
      );
      const raised = `error({err='MYCODE custom failure'}) -- ${p}`;
      expect(await errorOf(redis.eval(raised, [], []))).toBe(
        `MYCODE custom failure script: ${sha1(raised)}, on @user_script:1.`,
      );
      const unknown = `return redis.call('frobnicate') -- ${p}`;
      expect(await errorOf(redis.eval(unknown, [], []))).toBe(
        `ERR Unknown Redis command called from script script: ${sha1(unknown)}, on @user_script:1.`,
      );
      expect(await errorOf(redis.eval("return 1 +", [], []))).toBe(
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'",
      );
      // The string is unchanged: the script did not run past the failing call.
      expect(await redis.get(k("str"))).toBe("abc");
    });

    it.skipIf(skip)("redis.pcall returns the error table; error_reply and status_reply", async () => {
      await redis.set(k("str"), "abc");
      expect(
        await redis.eval("local t = redis.pcall('incr', KEYS[1]); return {type(t), t.err}", [k("str")], []),
      ).toEqual(["table", "ERR value is not an integer or out of range"]);
      // Returned (not raised), the error table is the error reply, without the script suffix.
      expect(await errorOf(redis.eval("return redis.pcall('incr', KEYS[1])", [k("str")], []))).toBe(
        "ERR value is not an integer or out of range",
      );
      // Lua's pcall around redis.call sees the message.
      expect(
        await redis.eval(
          "local ok, e = pcall(redis.call, 'incr', KEYS[1]); return {tostring(ok), type(e), e}",
          [k("str")],
          [],
        ),
      ).toEqual(["false", "string", "ERR value is not an integer or out of range"]);
      // error_reply's first word is the error code: "ERR" is added only to a one-word message.
      expect(await errorOf(redis.eval("return redis.error_reply('bad')", [], []))).toBe("ERR bad");
      expect(await errorOf(redis.eval("return redis.error_reply('MYCODE bad thing')", [], []))).toBe(
        "MYCODE bad thing",
      );
      expect(await errorOf(redis.eval("return {err='CODE my message'}", [], []))).toBe("CODE my message");
      expect(await redis.eval("return redis.status_reply('FINE')", [], [])).toBe("FINE");
      expect(await redis.eval("return {ok='OK'}", [], [])).toBe("OK");
    });

    it.skipIf(skip)(
      "Lua values become RESP: truncated numbers, nested tables, nil ends an array",
      async () => {
        expect(await redis.eval("return 3.99", [], [])).toBe(3);
        expect(await redis.eval("return -3.99", [], [])).toBe(-3);
        expect(await redis.eval("return true", [], [])).toBe(1);
        expect(await redis.eval("return false", [], [])).toBeNull();
        expect(await redis.eval("return nil", [], [])).toBeNull();
        expect(
          await redis.eval(
            "return {1, 2.9, -3.99, 'a', {true, false, 'x', {ok='fine'}, {}}, nil, 5}",
            [],
            [],
          ),
        ).toEqual([1, 2, -3, "a", [1, null, "x", "fine", []]]);
        expect(await redis.eval("return {ARGV[1], ARGV[2], ARGV[3]}", [], ["x", "y"])).toEqual(["x", "y"]);
      },
    );

    it.skipIf(skip)("RESP replies become Lua values; numbers sent to Redis; KEYS/ARGV bytes", async () => {
      const script = `
        local out = {}
        out[1] = type(redis.call('get', KEYS[1]))          -- nil bulk → false
        out[2] = redis.call('set', KEYS[2], 'v').ok        -- status → {ok=...}
        local n = redis.call('incrby', KEYS[3], 5)
        out[3] = type(n) .. ':' .. tostring(n + 0.5)       -- integer → number
        redis.call('rpush', KEYS[4], 'a', 'b')
        local l = redis.call('lrange', KEYS[4], 0, -1)     -- array → table
        out[4] = #l .. l[1] .. l[2]
        redis.call('set', KEYS[5], 0.1)                    -- a number argument: "%.17g"
        out[5] = redis.call('get', KEYS[5])
        redis.call('set', KEYS[5], 3.0)
        out[6] = redis.call('get', KEYS[5])
        out[7] = #KEYS .. ':' .. #ARGV .. ':' .. string.len(ARGV[1])
        out[8] = ARGV[1]
        return out`;
      const keys = ["absent", "s", "n", "l", "f"].map(k);
      const arg = "olá, mundo ✓";
      expect(await redis.eval(script, keys, [arg])).toEqual([
        "boolean",
        "OK",
        "number:5.5",
        "2ab",
        "0.10000000000000001",
        "3",
        `5:1:${Buffer.byteLength(arg)}`,
        arg,
      ]);
    });

    it.skipIf(skip)("cjson round trip and redis.sha1hex", async () => {
      const doc = '{"a":[1,2.5,"x",null,true,{"b":"ü"}]}';
      expect(await redis.eval("return cjson.encode(cjson.decode(ARGV[1]))", [], [doc])).toBe(doc);
      expect(
        await redis.eval(
          "local t = cjson.decode(ARGV[1]); return {t.a[2] * 2, type(t.a[4]), tostring(t.a[5]), t.a[6].b, #t.a}",
          [],
          [doc],
        ),
      ).toEqual([5, "userdata", "true", "ü", 6]);
      expect(await redis.eval(`return cjson.encode({1.5, 100000000000000, 'é', '"q"/', {}})`, [], [])).toBe(
        '[1.5,1e+14,"é","\\"q\\"\\/",{}]',
      );
      expect(await redis.eval("return redis.sha1hex(ARGV[1])", [], ["olá"])).toBe(sha1("olá"));
      expect(await redis.eval("return redis.sha1hex('')", [], [])).toBe(sha1(""));
    });

    it.skipIf(skip)("SCRIPT LOAD, EVALSHA, SCRIPT EXISTS, NOSCRIPT, SCRIPT FLUSH", async () => {
      const script = `return {KEYS[1], ARGV[1], '${run}${p}'}`;
      const sha = await redis.scriptLoad(script);
      expect(sha).toBe(sha1(script));
      expect(await redis.evalsha(sha, [k("a")], ["v"])).toEqual([k("a"), "v", `${run}${p}`]);
      expect(await redis.evalsha(sha.toUpperCase(), [k("a")], ["w"])).toEqual([k("a"), "w", `${run}${p}`]);
      expect(await redis.scriptExists(sha, "0".repeat(40))).toEqual([1, 0]);
      expect(await errorOf(redis.evalsha("0".repeat(40), [], []))).toBe(
        "NOSCRIPT No matching script. Please use EVAL.",
      );
      expect(await redis.scriptFlush()).toBe("OK");
      expect(await redis.scriptExists(sha)).toEqual([0]);
      expect(await errorOf(redis.evalsha(sha, [k("a")], ["v"]))).toBe(
        "NOSCRIPT No matching script. Please use EVAL.",
      );
      // EVAL caches the script again.
      expect(await redis.eval(script, [k("a")], ["x"])).toEqual([k("a"), "x", `${run}${p}`]);
      expect(await redis.scriptExists(sha)).toEqual([1]);
    });

    it.skipIf(skip)("EVAL_RO / EVALSHA_RO read but refuse writes; the no-writes shebang", async () => {
      await redis.set(k("ro"), "value");
      expect(await redis.evalRo("return redis.call('get', KEYS[1])", [k("ro")], [])).toBe("value");
      const write = `return redis.call('set', KEYS[1], 'x') -- ${p}`;
      expect(await errorOf(redis.evalRo(write, [k("ro")], []))).toBe(
        `ERR Write commands are not allowed from read-only scripts. script: ${sha1(write)}, on @user_script:1.`,
      );
      const sha = await redis.scriptLoad(write);
      expect(await errorOf(redis.evalshaRo(sha, [k("ro")], []))).toMatch(
        /^ERR Write commands are not allowed from read-only scripts\./,
      );
      expect(await redis.get(k("ro"))).toBe("value");
      const noWrites = `#!lua flags=no-writes\n-- ${p}\nreturn redis.call('set', KEYS[1], 'x')`;
      expect(await errorOf(redis.eval(noWrites, [k("ro")], []))).toBe(
        `ERR Write commands are not allowed from read-only scripts. script: ${sha1(noWrites)}, on @user_script:3.`,
      );
      expect(
        await redis.evalRo("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", [k("ro")], []),
      ).toBe("value");
      expect(await errorOf(redis.evalRo("#!lua\nreturn redis.call('get', KEYS[1])", [k("ro")], []))).toBe(
        "ERR Can not execute a script with write flag using *_ro command.",
      );
      expect(await errorOf(redis.eval("#!lua flags=bogus\nreturn 1", [], []))).toBe(
        "ERR Unexpected flag in script shebang: bogus",
      );
      expect(await redis.get(k("ro"))).toBe("value");
    });

    it.skipIf(skip)("FUNCTION LOAD, FCALL, FCALL_RO, FUNCTION LIST, FUNCTION DELETE", async () => {
      const tag = `${name}_${p}_${process.pid}_${Date.now()}`;
      const lib = `lualib_${tag}`;
      const [set, get, bad] = [`set_${tag}`, `get_${tag}`, `bad_${tag}`];
      const code = [
        `#!lua name=${lib}`,
        `redis.register_function('${set}', function(keys, args) return {keys[1], redis.call('set', keys[1], args[1]).ok} end)`,
        `redis.register_function{function_name='${get}', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}`,
        `redis.register_function('${bad}', function(keys, args) return nope end)`,
      ].join("\n");
      try {
        expect(await redis.functions.load({ code })).toBe(lib);
        expect(await errorOf(redis.functions.load({ code }))).toBe(`ERR Library '${lib}' already exists`);
        expect(await redis.functions.load({ code, replace: true })).toBe(lib);
        expect(await redis.functions.call(set, [k("fn")], ["v1"])).toEqual([k("fn"), "OK"]);
        expect(await redis.functions.callRo(get, [k("fn")])).toBe("v1");
        expect(await errorOf(redis.functions.callRo(set, [k("fn")], ["v2"]))).toBe(
          "ERR Can not execute a script with write flag using *_ro command.",
        );
        expect(await errorOf(redis.functions.call(bad, [], []))).toBe(
          `ERR user_function:4: Script attempted to access nonexistent global variable 'nope' script: ${bad}, on @user_function:4.`,
        );
        // FUNCTION LIST's reply is shaped by the client's deserializer, which this suite's client
        // (automaticDeserialization: false) skips.
        const lister = new Redis({
          url: emu.url,
          token: emu.token,
          responseEncoding: encoding,
          retry: false,
          enableTelemetry: false,
        });
        const listed = await lister.functions.list({ libraryName: lib, withCode: true });
        expect(listed).toHaveLength(1);
        expect(listed[0]!.libraryName).toBe(lib);
        expect(listed[0]!.engine).toBe("LUA");
        expect(listed[0]!.libraryCode).toBe(code);
        expect([...listed[0]!.functions].sort((a, b) => a.name.localeCompare(b.name))).toEqual(
          [
            { name: bad, description: undefined, flags: [] },
            { name: get, description: undefined, flags: ["no-writes"] },
            { name: set, description: undefined, flags: [] },
          ].sort((a, b) => a.name.localeCompare(b.name)),
        );
        expect(await errorOf(redis.functions.load({ code: "return 1" }))).toBe(
          "ERR Missing library metadata",
        );
        expect(await errorOf(redis.functions.load({ code: `#!lua name=${lib}_none\nlocal x = 1` }))).toBe(
          "ERR No functions registered",
        );
        expect(
          await errorOf(redis.functions.load({ code: `#!lua name=${lib}_call\nredis.call('ping')` })),
        ).toBe(
          "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'",
        );
      } finally {
        expect(await redis.functions.delete(lib)).toBe("OK");
      }
      expect(await redis.functions.list({ libraryName: lib })).toEqual([]); // [] either way
      expect(await errorOf(redis.functions.call(set, [k("fn")], ["v3"]))).toBe("ERR Function not found");
      expect(await errorOf(redis.functions.delete(lib))).toBe("ERR Library not found");
      expect(await redis.get(k("fn"))).toBe("v1");
    });

    it.skipIf(skip)(
      "every @upstash/ratelimit script compiles and loads under the SHA1 ratelimit ships",
      async () => {
        for (const s of rlScripts) {
          const sha = await redis.scriptLoad(s.script);
          expect(sha, s.name).toBe(sha1(s.script));
          if (s.hash !== null) expect(sha, s.name).toBe(s.hash);
        }
      },
    );
  });
});

const real = backends.find((b) => b.name === "redis");
const diffSkip = real ? real.skip : "redis backend not selected";

/** Scripts whose answers do not depend on time or hash order; `$` is the run's key prefix. */
const DIFF: string[][] = [
  ["set", "$str", "abc"],
  ["eval", "return redis.call('incr', KEYS[1])", "1", "$str"],
  ["eval", "return redis.pcall('incr', KEYS[1])", "1", "$str"],
  ["eval", "local t = redis.pcall('incr', KEYS[1]); return {type(t), t.err}", "1", "$str"],
  ["eval", "local ok, e = pcall(redis.call, 'incr', KEYS[1]); error(e)", "1", "$str"],
  ["eval", "local ok, e = pcall(error, {err='x y'}); return {type(e), e}", "0"],
  ["eval", "local a = {}\nreturn a.b.c", "0"],
  ["eval", "return x", "0"],
  ["eval", "x = 1", "0"],
  ["eval", "error('boom')", "0"],
  ["eval", "error({err='MY boom'})", "0"],
  ["eval", "return redis.error_reply('bad')", "0"],
  ["eval", "return redis.error_reply('CODE bad')", "0"],
  ["eval", "return {err='bad'}", "0"],
  ["eval", "return redis.status_reply('FINE')", "0"],
  ["eval", "return {1, 2.9, -3.99, 'a', {true, false, 'x', {ok='s'}, {err='E e'}}, nil, 5}", "0"],
  ["eval", "return {3.99, -0.5, 1e20, 0/0, 2^53}", "0"],
  ["eval", "return redis.call('nosuch')", "0"],
  ["eval", "return redis.call()", "0"],
  ["eval", "return redis.call('get')", "0"],
  ["eval", "return redis.call('get', {})", "0"],
  ["eval", "return redis.pcall('get', true)", "0"],
  ["eval", "return redis.call('eval', 'return 1', 0)", "0"],
  [
    "eval",
    "return {type(redis.call('get', KEYS[1])), redis.call('set', KEYS[2], 1.5), redis.call('get', KEYS[2])}",
    "2",
    "$absent",
    "$num",
  ],
  ["eval", "return redis.call('hgetall', KEYS[1])", "1", "$absent"],
  ["eval", "return redis.call('type', KEYS[1])", "1", "$str"],
  [
    "eval",
    "return tostring(10/2) .. ' ' .. 7/3 .. ' ' .. tostring(math.floor(2.5)) .. ' ' .. tostring(tonumber('12'))",
    "0",
  ],
  ["eval", "return cjson.encode({1.5, 'é', '\"q\"/', {a={true,false}}})", "0"],
  ["eval", "return cjson.encode(cjson.decode(ARGV[1]))", "0", '{"a":[1,2.5,"x",null,true]}'],
  ["eval", "return cjson.decode('[1,2,3]')[2]", "0"],
  ["eval", "return redis.sha1hex(ARGV[1])", "0", "olá"],
  ["eval", "return {KEYS[1], ARGV[1], ARGV[2], #ARGV}", "1", "$k", "a", "ü ✓"],
  ["eval", "return unpack({1, 2})", "0"],
  ["eval", "return 1 +", "0"],
  ["eval", "return 1", "-1"],
  ["eval", "return 1", "3", "a"],
  ["eval", "return 1", "x"],
  ["eval_ro", "return redis.call('get', KEYS[1])", "1", "$str"],
  ["eval_ro", "return redis.call('del', KEYS[1])", "1", "$str"],
  ["eval", "#!lua flags=no-writes\nreturn redis.call('del', KEYS[1])", "1", "$str"],
  ["eval_ro", "#!lua\nreturn 1", "0"],
  ["eval", "#!lua flags=bogus\nreturn 1", "0"],
  ["eval", "#!python\nreturn 1", "0"],
  ["eval", "#!lua\n\nreturn x", "0"],
  ["get", "$str"],
  ["script", "load", "return 'loaded $'"],
  ["evalsha", "@return 'loaded $'", "0"],
  ["evalsha_ro", "@return 'loaded $'", "0"],
  ["script", "exists", "@return 'loaded $'", "0000000000000000000000000000000000000000"],
  ["evalsha", "0000000000000000000000000000000000000000", "0"],
  ["script", "load", "return 1 +"],
  [
    "function",
    "load",
    "#!lua name=$L\nredis.register_function('$F', function(keys, args) return {keys[1], args[1], redis.call('set', keys[1], args[1])} end)",
  ],
  ["function", "load", "#!lua name=$L\nredis.register_function('$F', function() return 1 end)"],
  [
    "function",
    "load",
    "#!lua name=$R\nredis.register_function{function_name='$G', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}",
  ],
  ["fcall", "$F", "1", "$fk", "v"],
  ["fcall_ro", "$F", "1", "$fk", "w"],
  ["fcall_ro", "$G", "1", "$fk"],
  ["fcall", "$G", "1", "$fk"],
  ["fcall", "$nosuch", "0"],
  ["fcall", "$F", "5", "a"],
  ["function", "list", "libraryname", "$L"],
  ["function", "list", "libraryname", "$R", "withcode"],
  ["function", "load", "return 1"],
  ["function", "load", "#!lua name=$N\nlocal x = 1"],
  ["function", "load", "#!lua name=$N\nredis.call('ping')"],
  ["function", "delete", "$L"],
  ["function", "delete", "$L"],
  ["function", "delete", "$R"],
  ["function", "list", "libraryname", "$L"],
  ["fcall", "$F", "1", "$fk", "v"],
];

describe.skipIf(diffSkip)("Lua scripting: embedded store matches redis-server", () => {
  let pair: EmulatorPair;
  beforeAll(async () => {
    pair = await startEmulatorPair(real!.redisUrl(LUA_TEST_DB)!);
  });
  afterAll(async () => {
    await pair?.close();
  });

  it.each([true, false])("one command at a time (base64 %s)", async (base64) => {
    const tag = `${process.pid}_${Date.now()}_${base64 ? "b" : "r"}`;
    // `$` → the run's prefix; `$L`/`$R`/`$N`: library names; `$F`/`$G`: function names (global in
    // Redis); a leading `@` → the SHA1 of the rest.
    const fill = (s: string) =>
      s
        .replace(/\$([LRNFG])\b/g, (_, c: string) => `lt${c}_${tag}`)
        .replace(/\$nosuch/g, `nosuch_${tag}`)
        .replace(/\$/g, `${run}:${tag}:`);
    for (const cmd of DIFF) {
      const c = cmd.map((a) => (a.startsWith("@") ? sha1(fill(a.slice(1))) : fill(a)));
      const [m, r] = [await ask(pair.memory, "/", c, base64), await ask(pair.real, "/", c, base64)];
      expect({ cmd: c, ...m }).toEqual({ cmd: c, ...r });
    }
  });

  it("a pipeline of scripts and a MULTI/EXEC with scripts", async () => {
    const tag = `${process.pid}_${Date.now()}_p`;
    const cmds = [
      ["set", `${run}:${tag}:a`, "1"],
      ["eval", "return redis.call('incrby', KEYS[1], ARGV[1])", "1", `${run}:${tag}:a`, "41"],
      ["eval", "return redis.call('incr', KEYS[1])", "1", `${run}:${tag}:missing-arg-ok`],
      ["eval", "return {err='E in pipeline'}", "0"],
      ["eval", "return redis.pcall('hget', KEYS[1], 'f')", "1", `${run}:${tag}:a`],
      ["get", `${run}:${tag}:a`],
    ];
    for (const path of ["/pipeline", "/multi-exec"])
      for (const base64 of [true, false]) {
        const [m, r] = [await ask(pair.memory, path, cmds, base64), await ask(pair.real, path, cmds, base64)];
        expect({ path, base64, ...m }).toEqual({ path, base64, ...r });
      }
  });
});
