/**
 * Issue 11 item 4, through the official @upstash/redis client:
 * - hash-field expiry (HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT HTTL HPTTL HEXPIRETIME HPEXPIRETIME
 *   HPERSIST, Redis 7.4) and HGETDEL HGETEX HSETEX (Redis 8.0) on the embedded store, with a fake
 *   clock (only Date is faked: the store reads Date.now), and the one clear error the emulator
 *   answers for them when REDIS_URL points at an older redis-server;
 * - XAUTOCLAIM, XREADGROUP NOACK, approximate XTRIM/XADD trimming (`~`, LIMIT), COPY onto the same
 *   key, SCAN TYPE and MEMORY USAGE, compared between the embedded store and a real redis-server
 *   behind the emulator (MEMORY USAGE: only "a positive integer, or null for a missing key").
 * The real-Redis side uses logical db 11 (REDIS_DB below), keys unique per run, never flushed.
 */
import { Redis } from "@upstash/redis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis/index";
import { REDIS_TEST_DB, testRedisBackends } from "../harness/redis";
import { type EmulatorPair, startEmulatorPair } from "../harness/redis-differential";

const REDIS_DB = REDIS_TEST_DB.commands;

const redisBackend = (await testRedisBackends()).find((b) => b.name === "redis");
const skipReal = redisBackend ? redisBackend.skip : "redis backend not selected";

const client = (emu: UpstashRedisEmulator) =>
  new Redis({
    url: emu.url,
    token: emu.token,
    retry: false,
    enableTelemetry: false,
    enableAutoPipelining: false,
    automaticDeserialization: false,
  });

/** The client's answer, or the Redis error it threw (without the client's ", command was: …"). */
async function settle<T>(p: Promise<T>): Promise<T | { error: string }> {
  try {
    return await p;
  } catch (e) {
    return { error: (e as Error).message.replace(/, command was: [\s\S]*$/, "") };
  }
}

/** XPENDING detail rows without the idle time (it differs by a few ms between stores). */
const noIdle = (rows: unknown) => (rows as unknown[][]).map((r) => [r[0], r[1], r[3]]);

describe("hash-field expiry on the embedded store", () => {
  let emu: UpstashRedisEmulator;
  let redis: Redis;
  const T0 = Date.UTC(2030, 0, 1);
  const p = `hfe-${process.pid}:`;

  beforeAll(async () => {
    // The store's clock is Date.now, read when it is constructed: fake Date first.
    vi.useFakeTimers({ toFake: ["Date"], now: T0 });
    emu = await startUpstashRedis({ port: 0, hostname: "127.0.0.1" });
    redis = client(emu);
  });
  afterEach(() => {
    vi.setSystemTime(T0);
  });
  afterAll(async () => {
    vi.useRealTimers();
    await emu?.close();
  });

  const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

  it("HEXPIRE family: reply codes -2/0/1/2 and NX/XX/GT/LT", async () => {
    const k = `${p}h1`;
    await redis.hset(k, { a: "1", b: "2", c: "3" });
    expect(await redis.hexpire(k, ["a", "nope"], 100)).toEqual([1, -2]);
    expect(await redis.hexpire(`${p}missing`, ["a", "b"], 100)).toEqual([-2, -2]);
    // NX: only fields without a TTL.
    expect(await redis.hexpire(k, ["a", "b"], 50, "NX")).toEqual([0, 1]);
    // XX: only fields with one.
    expect(await redis.hexpire(k, ["a", "c"], 200, "XX")).toEqual([1, 0]);
    // GT: no TTL counts as infinite, so never greater.
    expect(await redis.hpexpire(k, ["a", "b", "c"], 150_000, "GT")).toEqual([0, 1, 0]);
    // LT: no TTL counts as infinite, so any TTL is less.
    expect(await redis.hpexpire(k, ["a", "c"], 10_000, "LT")).toEqual([1, 1]);
    expect(await redis.httl(k, ["a", "b", "c", "nope"])).toEqual([10, 150, 10, -2]);
    expect(await redis.hpttl(k, ["a", "b"])).toEqual([10_000, 150_000]);
    expect(await redis.hexpiretime(k, ["a"])).toEqual([Math.floor(T0 / 1000) + 10]);
    expect(await redis.hpexpiretime(k, ["b"])).toEqual([T0 + 150_000]);
    // Absolute forms; a time in the past deletes the field (2).
    expect(await redis.hexpireat(k, "a", Math.floor(T0 / 1000) + 30)).toEqual([1]);
    expect(await redis.hpexpireat(k, ["c"], T0 + 20_500)).toEqual([1]);
    expect(await redis.httl(k, ["c"])).toEqual([21]); // seconds round up, as in Redis
    expect(await redis.hpexpireat(k, ["c"], T0 - 1)).toEqual([2]);
    expect(await redis.hexists(k, "c")).toBe(0);
    expect(await redis.hexpire(k, ["b"], 0)).toEqual([2]);
    expect(await redis.hlen(k)).toBe(1);
    // HPERSIST: 1 removed, -1 no TTL, -2 no field.
    await redis.hset(k, { d: "4" });
    expect(await redis.hpersist(k, ["a", "d", "zz"])).toEqual([1, -1, -2]);
    expect(await redis.httl(k, ["a", "d"])).toEqual([-1, -1]);
    expect(await redis.hpersist(`${p}missing`, ["a"])).toEqual([-2]);
  });

  it("expired fields vanish lazily from every read, and an emptied hash disappears", async () => {
    const k = `${p}h2`;
    await redis.hset(k, { a: "1", b: "2", c: "3" });
    expect(await redis.hpexpire(k, ["a", "b"], 1000)).toEqual([1, 1]);
    advance(999);
    expect(await redis.hlen(k)).toBe(3);
    advance(1);
    expect(await redis.hget(k, "a")).toBeNull();
    expect(await redis.hlen(k)).toBe(1);
    expect(await redis.hgetall(k)).toEqual(["c", "3"]);
    expect(await redis.hkeys(k)).toEqual(["c"]);
    expect(await redis.hvals(k)).toEqual(["3"]);
    expect(await redis.hexists(k, "b")).toBe(0);
    expect(await redis.hmget(k, "a", "c")).toEqual([null, "3"]);
    expect(await redis.hscan(k, 0)).toEqual(["0", ["c", "3"]]);
    expect(await redis.httl(k, ["a", "c"])).toEqual([-2, -1]);
    // The last field expires: the key is gone for every command.
    expect(await redis.hexpire(k, ["c"], 5)).toEqual([1]);
    expect(await redis.exists(k)).toBe(1);
    advance(5000);
    expect(await redis.exists(k)).toBe(0);
    expect(await redis.type(k)).toBe("none");
    expect(await redis.scan(0, { match: `${p}h2*` })).toEqual(["0", []]);
    // HSET rewrites a field without its TTL; HINCRBY keeps it.
    await redis.hset(k, { x: "1", y: "1" });
    await redis.hexpire(k, ["x", "y"], 100);
    await redis.hset(k, { x: "2" });
    await redis.hincrby(k, "y", 5);
    expect(await redis.httl(k, ["x", "y"])).toEqual([-1, 100]);
    // COPY carries field TTLs; RENAME keeps them.
    await redis.copy(k, `${k}:copy`);
    expect(await redis.httl(`${k}:copy`, ["x", "y"])).toEqual([-1, 100]);
    await redis.rename(`${k}:copy`, `${k}:moved`);
    expect(await redis.httl(`${k}:moved`, ["y"])).toEqual([100]);
  });

  it("HGETDEL, HGETEX, HSETEX (Redis 8.0)", async () => {
    const k = `${p}h3`;
    await redis.hset(k, { a: "1", b: "2", c: "3" });
    expect(await redis.hgetdel(k, "a", "nope")).toEqual(["1", null]);
    expect(await redis.hgetdel(`${p}missing`, "a")).toEqual([null]);
    expect(await redis.hlen(k)).toBe(2);
    // HGETEX: read and set or clear TTLs of the fields that exist.
    expect(await redis.hgetex(k, { ex: 10 }, "b", "nope")).toEqual(["2", null]);
    expect(await redis.httl(k, ["b", "c"])).toEqual([10, -1]);
    expect(await redis.hgetex(k, { pxat: T0 + 500 }, "c")).toEqual(["3"]);
    expect(await redis.hpttl(k, ["c"])).toEqual([500]);
    expect(await redis.hgetex(k, { persist: true }, "b")).toEqual(["2"]);
    expect(await redis.httl(k, ["b"])).toEqual([-1]);
    expect(await redis.hgetex(k, { exat: Math.floor(T0 / 1000) - 1 }, "b")).toEqual(["2"]);
    expect(await redis.hexists(k, "b")).toBe(0); // past time: deleted
    advance(500);
    expect(await redis.exists(k)).toBe(0); // "c" expired: the hash is gone
    // HSETEX: FNX/FXX all-or-nothing, expiry options, KEEPTTL.
    expect(await redis.hsetex(k, { conditional: "FXX" }, { a: "1" })).toBe(0);
    expect(await redis.exists(k)).toBe(0);
    expect(await redis.hsetex(k, { conditional: "FNX", expiration: { ex: 60 } }, { a: "1", b: "2" })).toBe(1);
    expect(await redis.httl(k, ["a", "b"])).toEqual([60, 60]);
    expect(await redis.hsetex(k, { conditional: "FNX" }, { b: "x", c: "3" })).toBe(0);
    expect(await redis.hsetex(k, { conditional: "FXX", expiration: { keepttl: true } }, { a: "A" })).toBe(1);
    expect(await redis.httl(k, ["a"])).toEqual([60]);
    expect(await redis.hsetex(k, {}, { a: "AA" })).toBe(1); // no option: the TTL is dropped
    expect(await redis.httl(k, ["a"])).toEqual([-1]);
    expect(await redis.hsetex(k, { expiration: { px: 250 } }, { c: "3" })).toBe(1);
    expect(await redis.hpttl(k, ["c"])).toEqual([250]);
    expect(await redis.hsetex(k, { expiration: { pxat: T0 - 1 } }, { d: "4" })).toBe(1);
    expect(await redis.hgetall(k)).toEqual(["a", "AA", "b", "2", "c", "3"]);
  });

  it("argument errors are Redis' own", async () => {
    const k = `${p}h4`;
    await redis.hset(k, { a: "1" });
    await redis.set(`${p}str`, "x");
    const raw = (args: (string | number)[]) => settle(redis.exec(args as [string, ...string[]]));
    expect(await raw(["hexpire", k, "10", "FIELDS", "2", "a"])).toEqual({
      error: "ERR The `numfields` parameter must match the number of arguments",
    });
    expect(await raw(["hexpire", k, "10", "XX", "FELDS", "1", "a"])).toEqual({
      error: "ERR Mandatory argument FIELDS is missing or not at the right position",
    });
    expect(await raw(["hexpire", k, "10", "FIELDS", "0", "a"])).toEqual({
      error: "ERR Parameter `numFields` should be greater than 0",
    });
    expect(await raw(["httl", k, "FIELDS", "x", "a"])).toEqual({
      error: "ERR Number of fields must be a positive integer",
    });
    expect(await raw(["hexpire", k, "-1", "FIELDS", "1", "a"])).toEqual({
      error: "ERR invalid expire time, must be >= 0",
    });
    expect(await raw(["hpexpireat", k, String(2 ** 48), "FIELDS", "1", "a"])).toEqual({
      error: "ERR invalid expire time in 'hpexpireat' command",
    });
    expect(await raw(["hexpire", `${p}str`, "10", "FIELDS", "1", "a"])).toEqual({
      error: "WRONGTYPE Operation against a key holding the wrong kind of value",
    });
    expect(await raw(["hsetex", k, "FXX", "FNX", "FIELDS", "1", "a", "b"])).toEqual({
      error: "ERR Only one of FXX or FNX arguments can be specified",
    });
    expect(await raw(["hsetex", k, "EX", "1", "KEEPTTL", "FIELDS", "1", "a", "b"])).toEqual({
      error: "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified",
    });
    expect(await raw(["hsetex", k, "FIELDS", "2", "a", "b"])).toEqual({
      error: "ERR wrong number of arguments for 'hsetex' command",
    });
    expect(await raw(["hgetex", k, "EX", "x", "FIELDS", "1", "a"])).toEqual({
      error: "ERR value is not an integer or out of range",
    });
  });
});

describe.skipIf(skipReal)("REDIS_URL on Redis 7.0: the hash-field family answers one clear error", () => {
  let emu: UpstashRedisEmulator;
  let redis: Redis;
  let version = "";
  const p = `hfe-real-${process.pid}-${Date.now()}:`;

  beforeAll(async () => {
    emu = await startUpstashRedis({
      port: 0,
      hostname: "127.0.0.1",
      redisUrl: redisBackend!.redisUrl(REDIS_DB),
    });
    redis = client(emu);
    const info = String(await redis.exec(["INFO", "server"]));
    version = /redis_version:([0-9.]+)/.exec(info)?.[1] ?? "";
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("each command, alone, in a pipeline and in a transaction", async (ctx) => {
    const [major, minor] = version.split(".").map(Number) as [number, number];
    if (major > 7 || (major === 7 && minor >= 4)) ctx.skip(); // a newer server serves them itself
    const k = `${p}h`;
    await redis.hset(k, { a: "1" });
    const calls: [string, string, () => Promise<unknown>][] = [
      ["HEXPIRE", "7.4", () => redis.hexpire(k, "a", 10)],
      ["HPEXPIRE", "7.4", () => redis.hpexpire(k, "a", 10)],
      ["HEXPIREAT", "7.4", () => redis.hexpireat(k, "a", 2e9)],
      ["HPEXPIREAT", "7.4", () => redis.hpexpireat(k, "a", 2e12)],
      ["HTTL", "7.4", () => redis.httl(k, "a")],
      ["HPTTL", "7.4", () => redis.hpttl(k, "a")],
      ["HEXPIRETIME", "7.4", () => redis.hexpiretime(k, "a")],
      ["HPEXPIRETIME", "7.4", () => redis.hpexpiretime(k, "a")],
      ["HPERSIST", "7.4", () => redis.hpersist(k, "a")],
      ["HGETDEL", "8.0", () => redis.hgetdel(k, "a")],
      ["HGETEX", "8.0", () => redis.hgetex(k, { ex: 1 }, "a")],
      ["HSETEX", "8.0", () => redis.hsetex(k, {}, { a: "1" })],
    ];
    for (const [name, since, call] of calls) {
      expect(await settle(call()), name).toEqual({
        error: `ERR ${name} needs Redis ${since}+ (REDIS_URL points at Redis ${version}); the embedded store (no REDIS_URL) serves it`,
      });
    }
    const piped = await redis.pipeline().hget(k, "a").httl(k, "a").exec({ keepErrors: true });
    expect(piped[0]).toEqual({ result: "1", error: undefined });
    expect(piped[1]!.error).toMatch(/^ERR HTTL needs Redis 7\.4\+/);
    const tx = await settle(redis.multi().hget(k, "a").hgetdel(k, "a").exec());
    expect(tx).toEqual({ error: expect.stringMatching(/^ERR HGETDEL needs Redis 8\.0\+/) });
    expect(await redis.hget(k, "a")).toBe("1"); // nothing ran
  });
});

describe.skipIf(skipReal)(
  "embedded store matches redis-server (XAUTOCLAIM, NOACK, ~ trimming, COPY, SCAN TYPE, MEMORY USAGE)",
  () => {
    let pair: EmulatorPair;
    let mem: Redis;
    let real: Redis;
    const run = `cmds-${process.pid}-${Date.now()}`;

    beforeAll(async () => {
      pair = await startEmulatorPair(redisBackend!.redisUrl(REDIS_DB)!);
      mem = client(pair.memory);
      real = client(pair.real);
    });
    afterAll(async () => {
      await pair?.close();
    });

    /** Runs `f` on both stores (the same keys under a per-store-run prefix) and compares. */
    async function same<T>(label: string, f: (r: Redis, p: string) => Promise<T>, prefix: string) {
      const m = await settle(f(mem, prefix));
      const r = await settle(f(real, prefix));
      expect({ label, answer: m }).toEqual({ label, answer: r });
      return r;
    }

    /** Stream IDs differ between stores (time-based): fixed IDs keep replies comparable. */
    async function seed(r: Redis, k: string, n: number) {
      for (let i = 1; i <= n; i++) await r.xadd(k, `${i}-1`, { n: String(i) });
    }

    it("XAUTOCLAIM: claiming, COUNT, JUSTID, cursor, deleted entries, errors", async () => {
      const p = `${run}:xac:`;
      const k = `${p}s`;
      for (const r of [mem, real]) {
        await seed(r, k, 6);
        await r.xgroup(k, { type: "CREATE", group: "g", id: "0" });
        await r.xreadgroup("g", "c1", k, ">");
        await r.xdel(k, "2-1");
      }
      const cases: [string, (r: Redis) => Promise<unknown>][] = [
        ["count 2 from 0", (r) => r.xautoclaim(k, "g", "c2", 0, "0", { count: 2 })],
        ["justid from cursor", (r) => r.xautoclaim(k, "g", "c2", 0, "4-1", { count: 2, justId: true })],
        ["idle filter claims none", (r) => r.xautoclaim(k, "g", "c3", 3_600_000, "-")],
        ["the rest", (r) => r.xautoclaim(k, "g", "c3", 0, "(3-1")],
        ["pending per consumer", (r) => r.xpending(k, "g", "-", "+", 10).then(noIdle)],
        ["consumers", (r) => r.xinfo(k, { type: "CONSUMERS", group: "g" }).then(names)],
        ["no group", (r) => r.xautoclaim(k, "nope", "c", 0, "0")],
        ["no key", (r) => r.xautoclaim(`${p}none`, "g", "c", 0, "0")],
        ["bad count", (r) => r.exec(["XAUTOCLAIM", k, "g", "c", "0", "0", "COUNT", "0"])],
        ["bad idle", (r) => r.exec(["XAUTOCLAIM", k, "g", "c", "x", "0"])],
        ["bad id", (r) => r.exec(["XAUTOCLAIM", k, "g", "c", "0", "zz"])],
        ["bad option", (r) => r.exec(["XAUTOCLAIM", k, "g", "c", "0", "0", "FOO"])],
      ];
      for (const [label, f] of cases) await same(label, f, p);
    });

    it("XREADGROUP NOACK leaves nothing pending", async () => {
      const p = `${run}:noack:`;
      const k = `${p}s`;
      for (const r of [mem, real]) {
        await seed(r, k, 3);
        await r.xgroup(k, { type: "CREATE", group: "g", id: "0" });
      }
      await same("noack read", (r) => r.xreadgroup("g", "c1", k, ">", { count: 2, NOACK: true }), p);
      await same("none pending", (r) => r.xpending(k, "g", "-", "+", 10), p);
      await same("history is empty", (r) => r.xreadgroup("g", "c1", k, "0"), p);
      await same("acked read", (r) => r.xreadgroup("g", "c1", k, ">"), p);
      await same("one pending", (r) => r.xpending(k, "g", "-", "+", 10).then(noIdle), p);
      await same("groups", (r) => r.xinfo(k, { type: "GROUPS" }), p);
    });

    it("approximate trimming with ~ and LIMIT (XTRIM and XADD)", async () => {
      const p = `${run}:trim:`;
      for (const r of [mem, real]) await seed(r, `${p}a`, 350);
      const k = `${p}a`;
      const steps: [string, (r: Redis) => Promise<unknown>][] = [
        [
          "~ maxlen 120 limit 50",
          (r) => r.xtrim(k, { strategy: "MAXLEN", threshold: 120, exactness: "~", limit: 50 }),
        ],
        ["len", (r) => r.xlen(k)],
        ["~ maxlen 120", (r) => r.xtrim(k, { strategy: "MAXLEN", threshold: 120, exactness: "~" })],
        ["len 2", (r) => r.xlen(k)],
        ["~ minid", (r) => r.xtrim(k, { strategy: "MINID", threshold: "320-1", exactness: "~" })],
        ["= minid", (r) => r.xtrim(k, { strategy: "MINID", threshold: "320-1", exactness: "=" })],
        ["first", (r) => r.xrange(k, "-", "+", 1)],
        [
          "xadd ~ maxlen limit",
          (r) =>
            r.xadd(
              k,
              "400-1",
              { n: "x" },
              { trim: { type: "MAXLEN", threshold: 5, comparison: "~", limit: 100 } },
            ),
        ],
        ["len 3", (r) => r.xlen(k)],
        ["limit without ~", (r) => r.exec(["XTRIM", k, "MAXLEN", "=", "1", "LIMIT", "10"])],
        ["limit negative", (r) => r.exec(["XTRIM", k, "MAXLEN", "~", "1", "LIMIT", "-1"])],
        ["info", (r) => r.exec(["XINFO", "STREAM", k]).then((i) => (i as unknown[]).slice(0, 2))],
      ];
      for (const [label, f] of steps) await same(label, f, p);
      // Bigger streams: the trimmed count and length agree after many appends with ~.
      const b = `${p}b`;
      for (const r of [mem, real])
        for (let i = 1; i <= 260; i++)
          await r.xadd(
            b,
            `${i}-1`,
            { n: "v" },
            { trim: { type: "MAXLEN", threshold: 100, comparison: "~" } },
          );
      await same("len after xadd ~", (r) => r.xlen(b), p);
      await same("first after xadd ~", (r) => r.xrange(b, "-", "+", 1), p);
    });

    it("COPY onto the same key, and its other answers", async () => {
      const p = `${run}:copy:`;
      for (const r of [mem, real]) {
        await r.set(`${p}a`, "1");
        await r.hset(`${p}h`, { f: "v" });
      }
      const cases: [string, (r: Redis) => Promise<unknown>][] = [
        ["same key", (r) => r.copy(`${p}a`, `${p}a`)],
        ["same missing key", (r) => r.copy(`${p}none`, `${p}none`)],
        ["same key replace", (r) => r.copy(`${p}a`, `${p}a`, { replace: true })],
        ["copy", (r) => r.copy(`${p}h`, `${p}h2`)],
        ["exists", (r) => r.copy(`${p}a`, `${p}h2`)],
        ["replace", (r) => r.copy(`${p}a`, `${p}h2`, { replace: true })],
        ["copied", (r) => r.get(`${p}h2`)],
        ["missing source", (r) => r.copy(`${p}none`, `${p}x`)],
      ];
      for (const [label, f] of cases) await same(label, f, p);
    });

    it("SCAN with TYPE", async () => {
      const p = `${run}:scan:`;
      for (const r of [mem, real]) {
        await r.set(`${p}s1`, "1");
        await r.set(`${p}s2`, "1");
        await r.hset(`${p}h`, { f: "v" });
        await r.lpush(`${p}l`, "x");
        await r.sadd(`${p}set`, "x");
        await r.zadd(`${p}z`, { score: 1, member: "x" });
        await r.xadd(`${p}x`, "1-1", { f: "v" });
      }
      /** Cursors differ between stores; the keys a full scan yields must not. */
      const all = async (r: Redis, type?: string) => {
        const out: string[] = [];
        let cursor = "0";
        do {
          const [next, keys] = (await r.scan(cursor, {
            match: `${p}*`,
            count: 1000,
            ...(type ? { type } : {}),
          })) as [string, string[]];
          out.push(...keys);
          cursor = String(next);
        } while (cursor !== "0");
        return out.sort();
      };
      for (const type of [
        "string",
        "hash",
        "list",
        "set",
        "zset",
        "stream",
        "STRING",
        "nosuchtype",
        undefined,
      ])
        await same(`type ${type}`, (r) => all(r, type), p);
    });

    it("MEMORY USAGE: a positive integer, or null for a missing key", async () => {
      const p = `${run}:mem:`;
      for (const r of [mem, real]) {
        await r.set(`${p}s`, "hello");
        await r.hset(`${p}h`, { a: "1", b: "2" });
        await r.rpush(`${p}l`, "a", "b");
        await r.sadd(`${p}set`, "a");
        await r.zadd(`${p}z`, { score: 1, member: "a" });
        await r.xadd(`${p}x`, "1-1", { f: "v" });
      }
      const shape = (v: unknown) =>
        v === null ? null : typeof v === "number" && Number.isInteger(v) && v > 0 ? "positive integer" : v;
      for (const key of ["s", "h", "l", "set", "z", "x"])
        await same(key, (r) => r.exec(["MEMORY", "USAGE", `${p}${key}`]).then(shape), p);
      await same("samples", (r) => r.exec(["MEMORY", "USAGE", `${p}h`, "SAMPLES", "0"]).then(shape), p);
      await same("missing", (r) => r.exec(["MEMORY", "USAGE", `${p}none`]), p);
      await same("bad samples", (r) => r.exec(["MEMORY", "USAGE", `${p}h`, "SAMPLES", "-1"]), p);
      await same("bad option", (r) => r.exec(["MEMORY", "USAGE", `${p}h`, "FOO"]), p);
      await same("no key", (r) => r.exec(["MEMORY", "USAGE"]), p);
      await same("unknown subcommand", (r) => r.exec(["MEMORY", "FROB"]), p);
    });
  },
);

/** XINFO CONSUMERS rows → names and pending counts (idle times differ by a few ms). */
function names(rows: unknown): unknown {
  return (rows as unknown[][]).map((r) => [r[1], r[3]]);
}
