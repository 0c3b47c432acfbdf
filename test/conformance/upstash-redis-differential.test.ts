/**
 * Differential check of the embedded store against a real redis-server: the same raw commands go
 * through the emulator's REST surface over each backend, and the answers (results and error
 * strings, status codes, base64 encoding) must be identical. Skipped without a reachable Redis,
 * except in CI.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_TEST_DB, testRedisBackends } from "../harness/redis";
import { ask, type EmulatorPair, startEmulatorPair } from "../harness/redis-differential";

const redis = (await testRedisBackends()).find((b) => b.name === "redis");
const skip = redis ? redis.skip : "redis backend not selected";

/** Commands whose answers do not depend on time or hash-table order. */
const SCRIPT: string[][] = [
  ["set", "s", "10"],
  ["set", "s", "x", "NX"],
  ["set", "s", "11", "XX", "GET"],
  ["set", "s", "1", "EX", "0"],
  ["set", "s", "1", "EX", "abc"],
  ["set", "s", "1", "NX", "XX"],
  ["set", "s", "1", "EX", "10", "PX", "100"],
  ["set", "s", "12", "KEEPTTL"],
  ["getdel", "s"],
  ["get", "s"],
  ["incr", "n"],
  ["incrby", "n", "-5"],
  ["decrby", "n", "2"],
  ["decr", "n"],
  ["incrby", "n", "1.5"],
  ["incrby", "n", "9223372036854775807"],
  ["incrbyfloat", "f", "10.5"],
  ["incrbyfloat", "f", "0.1"],
  ["incrbyfloat", "f", "abc"],
  ["append", "a", "hello wörld"],
  ["strlen", "a"],
  ["getrange", "a", "0", "4"],
  ["mset", "m1", "1", "m2", "2"],
  ["mset", "m1"],
  ["mget", "m1", "m2", "nope", "h"],
  ["setnx", "m1", "x"],
  ["setex", "sx", "100", "v"],
  ["setex", "sx", "-1", "v"],
  ["ttl", "sx"],
  ["ttl", "nope"],
  ["ttl", "m1"],
  ["persist", "sx"],
  ["ttl", "sx"],
  ["expire", "sx", "100", "NX"],
  ["expire", "sx", "50", "GT"],
  ["expire", "sx", "50", "LT"],
  ["ttl", "sx"],
  ["hset", "h", "a", "1", "b", "2"],
  ["hset", "h", "a"],
  ["hget", "h", "a"],
  ["hgetall", "h"],
  ["hincrby", "h", "a", "5"],
  ["hincrby", "h", "c", "x"],
  ["hset", "h", "s", "str"],
  ["hincrby", "h", "s", "1"],
  ["hincrbyfloat", "h", "s", "1"],
  ["hincrbyfloat", "h", "a", "0.25"],
  ["hmget", "h", "a", "zz"],
  ["hsetnx", "h", "a", "9"],
  ["hdel", "h", "a", "b", "s", "zz"],
  ["hlen", "h"],
  ["hkeys", "h"],
  ["hvals", "h"],
  ["hexists", "h", "zz"],
  ["type", "h"],
  ["type", "nope"],
  ["get", "h"],
  ["lpush", "h", "x"],
  ["sadd", "st", "only"],
  ["sadd", "st", "only"],
  ["smembers", "st"],
  ["sismember", "st", "only"],
  ["scard", "st"],
  ["spop", "st"],
  ["exists", "st"],
  ["spop", "st", "-1"],
  ["zadd", "z", "1", "a", "2", "b", "3", "c"],
  ["zadd", "z", "NX", "XX", "1", "a"],
  ["zadd", "z", "GT", "LT", "1", "a"],
  ["zadd", "z", "INCR", "1", "a", "2", "b"],
  ["zadd", "z", "x", "a"],
  ["zadd", "z", "1", "a", "2"],
  ["zadd", "z", "CH", "GT", "5", "a", "0", "b"],
  ["zadd", "z", "INCR", "0.1", "c"],
  ["zadd", "z", "XX", "INCR", "1", "zz"],
  ["zrange", "z", "0", "-1", "WITHSCORES"],
  ["zrange", "z", "(3", "+inf", "BYSCORE"],
  ["zrange", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2", "WITHSCORES"],
  ["zrange", "z", "0", "1", "LIMIT", "0", "1"],
  ["zrange", "z", "x", "1", "BYSCORE"],
  ["zrange", "z", "-", "+", "BYLEX"],
  ["zrangebyscore", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", "1", "1"],
  ["zrevrange", "z", "0", "0"],
  ["zrevrangebyscore", "z", "+inf", "3"],
  ["zscore", "z", "c"],
  ["zscore", "z", "nope"],
  ["zincrby", "z", "1e3", "b"],
  ["zrank", "z", "b"],
  ["zrevrank", "z", "b"],
  ["zcount", "z", "(3.1", "5"],
  ["zcard", "z"],
  ["zmscore", "z", "a", "nope"],
  ["zrem", "z", "a", "nope"],
  ["zremrangebyrank", "z", "0", "0"],
  ["zremrangebyscore", "z", "-inf", "+inf"],
  ["exists", "z"],
  ["rpush", "l", "a", "b", "c", "b", "a"],
  ["lrange", "l", "1", "-2"],
  ["lrange", "l", "10", "20"],
  ["lrem", "l", "-1", "a"],
  ["lrem", "l", "0", "b"],
  ["lindex", "l", "0"],
  ["lindex", "l", "99"],
  ["lset", "l", "5", "x"],
  ["lset", "nope", "0", "x"],
  ["lset", "l", "-1", "z"],
  ["lpop", "l", "2"],
  ["rpop", "l"],
  ["rpop", "l"],
  ["llen", "l"],
  ["ltrim", "nope", "0", "1"],
  ["rename", "nope", "x"],
  ["rename", "m1", "m3"],
  ["get", "m3"],
  ["keys", "m3*"],
  ["del", "m2", "m3", "nope"],
  ["ping"],
  ["ping", "hi"],
  ["echo", "olá"],
  ["GeT", "nope"],
  ["get", "a", "b"],
  ["frobnicate", "x", "y"],
  ["evalsha", "0000000000000000000000000000000000000000", "0"],
  ["script", "exists", "0000000000000000000000000000000000000000"],
];

/** A fresh key prefix per run; the real db is never flushed here. */
const run = `diff-${process.pid}-${Date.now()}`;

/**
 * Key names get a prefix so runs (and encodings, and paths) do not share state; only the first
 * argument is a key in almost every command, and the exceptions use keys that stay absent.
 */
const keyed = (c: string[], prefix: string) =>
  ["ping", "echo", "script", "evalsha", "frobnicate"].includes(c[0]!.toLowerCase())
    ? c
    : c[0] === "mset" || c[0] === "mget" || c[0] === "del" || c[0] === "rename"
      ? [c[0], ...c.slice(1).map((a, i) => (c[0] === "mset" && i % 2 === 1 ? a : prefix + a))]
      : c[0] === "keys"
        ? [c[0], prefix + c[1]!]
        : [c[0]!, prefix + c[1]!, ...c.slice(2)].filter((x) => x !== `${prefix}undefined`);

/** Commands of SCRIPT that Redis refuses when they are queued in MULTI (wrong arity, unknown). */
const QUEUE_TIME_ERRORS: string[][] = [
  ["mset", "m1"],
  ["hset", "h", "a"],
  ["get", "a", "b"],
  ["frobnicate", "x", "y"],
];
const queueErrors = new Set(QUEUE_TIME_ERRORS.map((c) => JSON.stringify(c)));
const queuesCleanly = (c: string[]) => !queueErrors.has(JSON.stringify(c));

describe.skipIf(skip)("embedded store matches redis-server", () => {
  let pair: EmulatorPair;
  // A logical db of its own: the main conformance suite flushes its db and may run in parallel.
  beforeAll(async () => {
    pair = await startEmulatorPair(redis!.redisUrl(REDIS_TEST_DB.differential)!);
  });
  afterAll(async () => {
    await pair?.close();
  });

  it.each([true, false])("one command at a time (base64 %s)", async (base64) => {
    const prefix = `${run}${base64 ? "b" : "r"}:`;
    for (const cmd of SCRIPT) {
      const c = keyed(cmd, prefix);
      const [m, r] = [await ask(pair.memory, "/", c, base64), await ask(pair.real, "/", c, base64)];
      expect({ cmd: c, ...m }).toEqual({ cmd: c, ...r });
    }
  });

  /** Runs `cmds` on both stores through `path` and compares the answers command by command. */
  async function compareBatch(path: "/pipeline" | "/multi-exec", cmds: string[][]) {
    const [m, r] = [await ask(pair.memory, path, cmds, true), await ask(pair.real, path, cmds, true)];
    // One answer per command, not a transaction-level error such as EXECABORT.
    expect(r.status, path).toBe(200);
    expect(r.body, path).toHaveLength(cmds.length);
    const perCommand = (a: { status: number; body: unknown }) =>
      Array.isArray(a.body) ? cmds.map((cmd, i) => ({ cmd, ...(a.body as object[])[i] })) : a.body;
    expect({ status: m.status, body: perCommand(m) }).toEqual({ status: r.status, body: perCommand(r) });
    // Runtime errors (syntax, not an integer, WRONGTYPE, ...) leave the other commands running.
    expect(
      (r.body as { error?: string }[]).some((a) => a.error),
      path,
    ).toBe(true);
  }

  it("pipeline and multi-exec answers match", async () => {
    // Redis refuses a command with the wrong arity (or an unknown one) when it is queued, and EXEC
    // then discards the whole transaction: such commands stay out of the MULTI/EXEC batch.
    const batch = SCRIPT.slice(0, 60).filter((c) => !["mset", "mget"].includes(c[0]!));
    await compareBatch(
      "/pipeline",
      batch.map((c) => keyed(c, `${run}p:`)),
    );
    await compareBatch(
      "/multi-exec",
      batch.filter(queuesCleanly).map((c) => keyed(c, `${run}m:`)),
    );
  });

  it("the whole script in one MULTI/EXEC", async () => {
    await compareBatch(
      "/multi-exec",
      SCRIPT.filter(queuesCleanly).map((c) => keyed(c, `${run}M:`)),
    );
  });

  it("multi-exec with a command refused when queued is discarded as a whole (EXECABORT)", async () => {
    const k = `${run}abort:`;
    for (const bad of QUEUE_TIME_ERRORS) {
      const cmds = [["set", "s", "1"], bad, ["incr", "n"]].map((c) => keyed(c, k));
      const [m, r] = [
        await ask(pair.memory, "/multi-exec", cmds, false),
        await ask(pair.real, "/multi-exec", cmds, false),
      ];
      expect({ bad, ...m }).toEqual({ bad, ...r });
      expect(r, JSON.stringify(bad)).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^EXECABORT/) },
      });
      // Nothing ran.
      for (const emu of [pair.memory, pair.real])
        expect((await ask(emu, "/", ["mget", `${k}s`, `${k}n`], false)).body).toEqual({
          result: [null, null],
        });
    }
  });
});
