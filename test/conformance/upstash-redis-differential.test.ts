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
    // Key names get a prefix so the two encodings do not share state; only the first argument is
    // a key in almost every command, and the exceptions use keys that stay absent.
    const keyed = (c: string[]) =>
      ["ping", "echo", "script", "evalsha", "frobnicate"].includes(c[0]!.toLowerCase())
        ? c
        : c[0] === "mset" || c[0] === "mget" || c[0] === "del" || c[0] === "rename"
          ? [c[0], ...c.slice(1).map((a, i) => (c[0] === "mset" && i % 2 === 1 ? a : prefix + a))]
          : c[0] === "keys"
            ? [c[0], prefix + c[1]!]
            : [c[0]!, prefix + c[1]!, ...c.slice(2)].filter((x) => x !== `${prefix}undefined`);
    for (const cmd of SCRIPT) {
      const c = keyed(cmd);
      const [m, r] = [await ask(pair.memory, "/", c, base64), await ask(pair.real, "/", c, base64)];
      expect({ cmd: c, ...m }).toEqual({ cmd: c, ...r });
    }
  });

  it("pipeline and multi-exec answers match", async () => {
    // Keys of this batch are prefixed too (first argument; the batch has no multi-key commands).
    const batch = SCRIPT.slice(0, 60)
      .filter((c) => !["mset", "mget"].includes(c[0]!))
      .map((c) => [c[0]!, `${run}p:${c[1]}`, ...c.slice(2)]);
    for (const path of ["/pipeline", "/multi-exec"]) {
      const [m, r] = [await ask(pair.memory, path, batch, true), await ask(pair.real, path, batch, true)];
      expect(m).toEqual(r);
    }
  });
});
