/**
 * The command families the embedded store gained (bitmaps, HyperLogLog, geo, streams, set/sorted
 * set *STORE, LMOVE/LPOS, COPY, PUBLISH, binary values), through the official @upstash/redis
 * client against both stores. The real-Redis backend uses logical db 3 with per-run key prefixes.
 */
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis/index";
import { Db } from "../../dev/upstash-redis/memory/db";
import { REDIS_TEST_DB, testRedisBackends } from "../harness/redis";

const backends = await testRedisBackends();

describe.each(backends)("more @upstash/redis commands over $name", ({ name, redisUrl, skip }) => {
  let emu: UpstashRedisEmulator;
  let redis: Redis;
  const p = `more-${name}-${process.pid}-${Date.now()}:`;

  beforeAll(async () => {
    if (skip) return;
    emu = await startUpstashRedis({ port: 0, hostname: "127.0.0.1", redisUrl: redisUrl(REDIS_TEST_DB.more) });
    // Auto-pipelining wraps commands in a proxy that BITFIELD's builder does not survive.
    redis = new Redis({
      url: emu.url,
      token: emu.token,
      retry: false,
      enableTelemetry: false,
      enableAutoPipelining: false,
    });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it.skipIf(skip)("bitmaps", async () => {
    expect(await redis.setbit(`${p}b`, 7, 1)).toBe(0);
    expect(await redis.setbit(`${p}b`, 7, 0)).toBe(1);
    await redis.setbit(`${p}b`, 9, 1);
    expect(await redis.getbit(`${p}b`, 9)).toBe(1);
    expect(await redis.bitcount(`${p}b`, 0, -1)).toBe(1);
    expect(await redis.bitpos(`${p}b`, 1)).toBe(9);
    await redis.set(`${p}s1`, "foobar");
    await redis.set(`${p}s2`, "abcdef");
    expect(await redis.bitcount(`${p}s1`, 1, 1)).toBe(6);
    expect(await redis.bitop("and", `${p}dest`, `${p}s1`, `${p}s2`)).toBe(6);
    expect(await redis.get(`${p}dest`)).toBe("`bc`ab");
    const bf = await redis
      .bitfield(`${p}bf`)
      .set("i8", 0, 100)
      .get("u4", 0)
      .overflow("SAT")
      .incrby("u2", 100, 7)
      .exec();
    expect(bf).toEqual([0, 6, 3]);
    expect(await redis.setrange(`${p}r`, 3, "xyz")).toBe(6);
    expect(await redis.getrange(`${p}r`, 3, -1)).toBe("xyz");
  });

  it.skipIf(skip)("HyperLogLog", async () => {
    expect(await redis.pfadd(`${p}h1`, "a", "b", "c")).toBe(1);
    expect(await redis.pfadd(`${p}h1`, "a")).toBe(0);
    expect(await redis.pfcount(`${p}h1`)).toBe(3);
    await redis.pfadd(`${p}h2`, ...Array.from({ length: 100 }, (_, i) => `m${i}`));
    const big = await redis.pfcount(`${p}h2`);
    expect(Math.abs(big - 100)).toBeLessThanOrEqual(2);
    expect(await redis.pfmerge(`${p}hm`, `${p}h1`, `${p}h2`)).toBe("OK");
    expect(await redis.pfcount(`${p}hm`)).toBe(await redis.pfcount(`${p}h1`, `${p}h2`));
  });

  it.skipIf(skip)("geo", async () => {
    expect(
      await redis.geoadd(
        `${p}g`,
        { longitude: 13.361389, latitude: 38.115556, member: "Palermo" },
        { longitude: 15.087269, latitude: 37.502669, member: "Catania" },
      ),
    ).toBe(2);
    expect(await redis.geodist(`${p}g`, "Palermo", "Catania", "KM")).toBe(166.2742);
    expect(await redis.geohash(`${p}g`, "Palermo", "nope")).toEqual(["sqc8b49rny0", null]);
    const [pos] = await redis.geopos(`${p}g`, "Palermo");
    expect(pos!.lng).toBeCloseTo(13.361389, 5);
    expect(pos!.lat).toBeCloseTo(38.115556, 5);
    const found = await redis.geosearch(
      `${p}g`,
      { type: "FROMLONLAT", coordinate: { lon: 15, lat: 37 } },
      { type: "BYRADIUS", radius: 200, radiusType: "KM" },
      "ASC",
      { withDist: true },
    );
    expect(found).toEqual([
      { member: "Catania", dist: 56.4413 },
      { member: "Palermo", dist: 190.4424 },
    ]);
    expect(
      await redis.geosearchstore(
        `${p}gs`,
        `${p}g`,
        { type: "FROMMEMBER", member: "Palermo" },
        { type: "BYBOX", rect: { width: 400, height: 400 }, rectType: "KM" },
        "DESC",
      ),
    ).toBe(2);
    expect(await redis.zcard(`${p}gs`)).toBe(2);
  });

  it.skipIf(skip)("streams", async () => {
    const k = `${p}x`;
    const id1 = await redis.xadd(k, "*", { name: "ana", n: 1 });
    expect(id1).toMatch(/^\d+-\d+$/);
    await redis.xadd(k, "*", { name: "bia", n: 2 });
    expect(await redis.xlen(k)).toBe(2);
    const all = await redis.xrange(k, "-", "+");
    expect(Object.values(all)).toEqual([
      { name: "ana", n: 1 },
      { name: "bia", n: 2 },
    ]);
    expect(Object.keys(await redis.xrevrange(k, "+", "-", 1))).toHaveLength(1);
    expect(await redis.xgroup(k, { type: "CREATE", group: "g", id: "0" })).toBe("OK");
    const read = (await redis.xreadgroup("g", "c1", k, ">", { count: 1 })) as unknown[];
    expect(JSON.stringify(read)).toContain("ana");
    const pending = (await redis.xpending(k, "g", "-", "+", 10)) as unknown[][];
    expect(pending).toHaveLength(1);
    expect(pending[0]![0]).toBe(id1);
    expect(pending[0]![1]).toBe("c1");
    expect(await redis.xack(k, "g", id1)).toBe(1);
    const groups = (await redis.xinfo(k, { type: "GROUPS" })) as unknown[][];
    expect(groups[0]).toEqual(
      expect.arrayContaining(["name", "g", "pending", 0, "last-delivered-id", id1, "lag", 1]),
    );
    const plain = await redis.xread(k, "0-0");
    expect(JSON.stringify(plain)).toContain("bia");
    expect(await redis.xdel(k, id1)).toBe(1);
    expect(await redis.xtrim(k, { strategy: "MAXLEN", threshold: 0 })).toBe(1);
    expect(await redis.xlen(k)).toBe(0);
  });

  it.skipIf(skip)("lists, sets, sorted sets, keys, publish", async () => {
    await redis.rpush(`${p}l`, "a", "b", "c", "b");
    expect(await redis.lpos(`${p}l`, "b")).toBe(1);
    expect(await redis.lpos(`${p}l`, "b", { rank: -1 })).toBe(3);
    expect(await redis.lmove(`${p}l`, `${p}l2`, "left", "right")).toBe("a");
    expect(await redis.lrange(`${p}l2`, 0, -1)).toEqual(["a"]);
    await redis.sadd(`${p}set1`, "a", "b", "c");
    await redis.sadd(`${p}set2`, "b", "c", "d");
    expect(await redis.sinterstore(`${p}si`, `${p}set1`, `${p}set2`)).toBe(2);
    expect(await redis.sunionstore(`${p}su`, `${p}set1`, `${p}set2`)).toBe(4);
    expect(await redis.sdiffstore(`${p}sd`, `${p}set1`, `${p}set2`)).toBe(1);
    expect(await redis.smove(`${p}set1`, `${p}set2`, "a")).toBe(1);
    await redis.zadd(`${p}z1`, { score: 1, member: "a" }, { score: 2, member: "b" });
    await redis.zadd(`${p}z2`, { score: 10, member: "b" }, { score: 20, member: "c" });
    expect(await redis.zunionstore(`${p}zu`, 2, [`${p}z1`, `${p}z2`])).toBe(3);
    expect(await redis.zrange(`${p}zu`, 0, -1, { withScores: true })).toEqual(["a", 1, "b", 12, "c", 20]);
    expect(await redis.zinterstore(`${p}zi`, 2, [`${p}z1`, `${p}z2`], { aggregate: "max" })).toBe(1);
    expect(await redis.zdiffstore(`${p}zd`, 2, `${p}z1`, `${p}z2`)).toBe(1);
    expect(await redis.zunion(2, [`${p}z1`, `${p}z2`], { withScores: true })).toEqual([
      "a",
      1,
      "b",
      12,
      "c",
      20,
    ]);
    await redis.zadd(
      `${p}lex`,
      { score: 0, member: "a" },
      { score: 0, member: "b" },
      { score: 0, member: "c" },
    );
    expect(await redis.zlexcount(`${p}lex`, "[a", "(c")).toBe(2);
    expect(await redis.zremrangebylex(`${p}lex`, "[a", "[b")).toBe(2);
    expect(await redis.copy(`${p}zu`, `${p}zcopy`)).toBe("COPIED");
    expect(await redis.zcard(`${p}zcopy`)).toBe(3);
    expect(await redis.renamenx(`${p}zcopy`, `${p}zu`)).toBe(0);
    expect(await redis.touch(`${p}zu`, `${p}nope`)).toBe(1);
    expect(await redis.unlink(`${p}zcopy`)).toBe(1);
    expect(await redis.publish("a-channel", "hi")).toBe(0);
    expect(typeof (await redis.randomkey())).toBe("string");
  });

  it.skipIf(skip)("binary-safe values: UTF-8 text and raw bytes keep their bytes", async () => {
    await redis.set(`${p}u`, "café ☃ 😀");
    expect(await redis.strlen(`${p}u`)).toBe(Buffer.byteLength("café ☃ 😀"));
    expect(await redis.getrange(`${p}u`, 0, 2)).toBe("caf");
    expect(await redis.getrange(`${p}u`, 0, 4)).toBe("café");
    await redis.setbit(`${p}raw`, 0, 1); // one byte 0x80: not valid UTF-8 on its own
    const res = await fetch(emu.url, {
      method: "POST",
      headers: { authorization: `Bearer ${emu.token}`, "upstash-encoding": "base64" },
      body: JSON.stringify(["get", `${p}raw`]),
    });
    expect(await res.json()).toEqual({ result: Buffer.from([0x80]).toString("base64") });
  });
});

describe("embedded store's active expiry", () => {
  it("reaches expired keys behind more persistent keys than one sweep examines", () => {
    let now = 0;
    const db = new Db(() => now);
    for (let i = 0; i < 1500; i++) db.setString(`keep:${i}`, "v");
    for (let i = 0; i < 10; i++) {
      db.setString(`gone:${i}`, "v");
      db.setExpireAt(`gone:${i}`, 100);
    }
    now = 200;
    // Two sweeps of 1000 examine all 1510 keys: the 10 expired ones, inserted last, are dropped.
    expect(db.sweep() + db.sweep()).toBe(10);
    // The next pass starts over from the oldest key and finds nothing left to drop.
    expect(db.sweep() + db.sweep()).toBe(0);
  });
});
