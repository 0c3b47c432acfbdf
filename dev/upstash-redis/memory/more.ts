/**
 * The rest of @upstash/redis' commands that Redis 7.0 has: LMOVE LPOS LMPOP, the *STORE set
 * commands and SINTERCARD, SSCAN/ZSCAN, ZUNION/ZINTER/ZDIFF(+STORE), COPY, PUBLISH, OBJECT,
 * HRANDFIELD and MEMORY USAGE (an estimate: see memoryUsage). Redis 7.0 semantics and error strings.
 */
import type { Reply } from "../reply";
import { err, formatScore, parseFloatArg, parseInt64, SYNTAX, type Value, WRONGTYPE } from "./db";
import { popEnd } from "./lists";
import { pick, pickRepeating, randomItem } from "./random";
import { scanItems } from "./scan";
import { members, setOps } from "./sets";
import { subcommandCheck } from "./streams";
import type { CommandTable, Ctx } from "./types";
import { sorted, withScores } from "./zsets";

/** getRangeLongFromObjectOrReply with a message: a non-integer and an out-of-range value give it. */
function rangedInt(s: string, min: number, message: string): number {
  let n: number;
  try {
    n = parseInt64(s);
  } catch {
    throw err(`ERR ${message}`);
  }
  if (n < min) throw err(`ERR ${message}`);
  return n;
}

function side(s: string): "LEFT" | "RIGHT" {
  const u = s.toUpperCase();
  if (u !== "LEFT" && u !== "RIGHT") throw err(SYNTAX);
  return u;
}

function storeSet(ctx: Ctx, dest: string, members: Iterable<string>): number {
  const s = new Set(members);
  if (s.size) ctx.db.put(dest, { type: "set", v: s });
  else ctx.db.delete(dest);
  return s.size;
}

/** A sorted set or a plain set (scores 1) as sources of ZUNION/ZINTER/ZDIFF. */
function zsource(ctx: Ctx, key: string): Map<string, number> | undefined {
  const t = ctx.db.typeOf(key);
  if (t === undefined) return undefined;
  if (t === "zset") return ctx.db.get(key, "zset");
  if (t === "set") return new Map([...ctx.db.get(key, "set")!].map((m) => [m, 1] as [string, number]));
  throw err(WRONGTYPE);
}

/** zunionInterDiffGenericCommand. `args` starts at numkeys. */
function zsetOp(
  ctx: Ctx,
  op: "union" | "inter" | "diff",
  args: string[],
  dest: string | null,
  fullname: string,
): Reply {
  const numkeys = parseInt64(args[0]!);
  if (numkeys < 1) throw err(`ERR at least 1 input key is needed for '${fullname}' command`);
  if (numkeys > args.length - 1) throw err(SYNTAX);
  const keys = args.slice(1, 1 + numkeys);
  const srcs = keys.map((k) => zsource(ctx, k));
  const weights = keys.map(() => 1);
  let aggregate: "SUM" | "MIN" | "MAX" = "SUM";
  let scores = false;
  for (let j = 1 + numkeys; j < args.length; ) {
    const o = args[j]!.toUpperCase();
    const remaining = args.length - j;
    if (op !== "diff" && remaining >= numkeys + 1 && o === "WEIGHTS") {
      for (let i = 0; i < numkeys; i++)
        weights[i] = parseFloatArg(args[j + 1 + i]!, "ERR weight value is not a float");
      j += 1 + numkeys;
    } else if (op !== "diff" && remaining >= 2 && o === "AGGREGATE") {
      const a = args[j + 1]!.toUpperCase();
      if (a !== "SUM" && a !== "MIN" && a !== "MAX") throw err(SYNTAX);
      aggregate = a;
      j += 2;
    } else if (remaining >= 1 && dest === null && o === "WITHSCORES") {
      scores = true;
      j++;
    } else throw err(SYNTAX);
  }
  const weighted = (score: number, w: number) => {
    const v = score * w;
    return Number.isNaN(v) ? 0 : v;
  };
  const combine = (a: number, b: number) => {
    if (aggregate === "SUM") {
      const v = a + b;
      return Number.isNaN(v) ? 0 : v;
    }
    return aggregate === "MIN" ? Math.min(a, b) : Math.max(a, b);
  };
  const result = new Map<string, number>();
  if (op === "union") {
    srcs.forEach((z, i) => {
      for (const [m, s] of z ?? []) {
        const v = weighted(s, weights[i]!);
        const cur = result.get(m);
        result.set(m, cur === undefined ? v : combine(cur, v));
      }
    });
  } else if (op === "inter") {
    if (srcs.every((z) => z !== undefined)) {
      for (const [m, s] of srcs[0]!) {
        let v = weighted(s, weights[0]!);
        let all = true;
        for (let i = 1; i < srcs.length; i++) {
          const o = srcs[i]!.get(m);
          if (o === undefined) {
            all = false;
            break;
          }
          v = combine(v, weighted(o, weights[i]!));
        }
        if (all) result.set(m, v);
      }
    }
  } else {
    for (const [m, s] of srcs[0] ?? []) if (!srcs.slice(1).some((z) => z?.has(m))) result.set(m, s);
  }
  if (dest !== null) {
    if (result.size) ctx.db.put(dest, { type: "zset", v: result });
    else ctx.db.delete(dest);
    return result.size;
  }
  return withScores(sorted(result), scores);
}

/**
 * MEMORY USAGE: an estimate in bytes, not Redis' allocator-exact count. Per key: 48 bytes of
 * dict entry, object header and key string plus the key's length; per value: its bytes plus a
 * small per-element overhead (listpack-sized for small aggregates, hashtable/skiplist-sized for
 * large ones), every element counted (as if SAMPLES 0). Always a positive integer; tests and
 * callers should rely on nothing more.
 */
function memoryUsage(key: string, v: Value): number {
  const base = 48 + key.length;
  const per = (n: number, small: number, large: number) => (n <= 128 ? small : large);
  switch (v.type) {
    case "string":
      return base + (v.v.length <= 44 ? v.v.length + 8 : v.v.length + 16);
    case "list":
      return base + 32 + v.v.reduce((n, x) => n + x.length + 11, 0);
    case "set":
      return base + 32 + [...v.v].reduce((n, x) => n + x.length + per(v.v.size, 2, 40), 0);
    case "hash":
      return base + 32 + [...v.v].reduce((n, [f, x]) => n + f.length + x.length + per(v.v.size, 4, 56), 0);
    case "zset":
      return base + 32 + [...v.v.keys()].reduce((n, m) => n + m.length + per(v.v.size, 12, 72), 0);
    default:
      return (
        base +
        96 +
        v.v.entries.reduce((n, e) => n + 16 + e.fields.reduce((m, x) => m + x.length + 2, 0), 0) +
        v.v.groups.size * 64
      );
  }
}

function cloneValue(v: Value): Value {
  switch (v.type) {
    case "string":
      return { type: "string", v: v.v };
    case "hash":
      return { type: "hash", v: new Map(v.v) };
    case "set":
      return { type: "set", v: new Set(v.v) };
    case "zset":
      return { type: "zset", v: new Map(v.v) };
    case "list":
      return { type: "list", v: [...v.v] };
    default:
      return { type: "stream", v: structuredCloneStream(v.v) };
  }
}

function structuredCloneStream(s: Extract<Value, { type: "stream" }>["v"]) {
  const copy = Object.assign(Object.create(Object.getPrototypeOf(s)), s) as typeof s;
  copy.entries = s.entries.map((e) => ({ ...e, fields: [...e.fields] }));
  copy.groups = new Map(
    [...s.groups].map(([name, g]) => {
      const pel = new Map([...g.pel].map(([k, p]) => [k, { ...p }]));
      const consumers = new Map(
        [...g.consumers].map(([n, c]) => [
          n,
          { ...c, pel: new Map([...c.pel.keys()].map((k) => [k, pel.get(k)!])) },
        ]),
      );
      return [name, { ...g, pel, consumers }];
    }),
  );
  return copy;
}

export const moreCommands: CommandTable = {
  lmove: {
    arity: 5,
    run(ctx, [src, dst, from, to]) {
      const wf = side(from!);
      const wt = side(to!);
      const l = ctx.db.get(src!, "list");
      if (!l) return null;
      ctx.db.get(dst!, "list"); // WRONGTYPE before anything moves
      const v = wf === "LEFT" ? l.shift()! : l.pop()!;
      ctx.db.dropIfEmpty(src!);
      const d = ctx.db.getOrCreate(dst!, "list");
      if (wt === "LEFT") d.unshift(v);
      else d.push(v);
      return v;
    },
  },
  lpos: {
    arity: -3,
    run(ctx, [key, element, ...opts]) {
      let rank = 1;
      let count: number | undefined;
      let maxlen = 0;
      for (let i = 0; i < opts.length; i++) {
        const o = opts[i]!.toUpperCase();
        const more = opts.length - 1 - i;
        if (o === "RANK" && more) {
          rank = parseInt64(opts[++i]!);
          if (rank === 0)
            throw err(
              "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
            );
          if (rank <= Number.MIN_SAFE_INTEGER) throw err("ERR value is out of range");
        } else if (o === "COUNT" && more) {
          count = parseInt64(opts[++i]!);
          if (count < 0) throw err("ERR COUNT can't be negative");
        } else if (o === "MAXLEN" && more) {
          maxlen = parseInt64(opts[++i]!);
          if (maxlen < 0) throw err("ERR MAXLEN can't be negative");
        } else throw err(SYNTAX);
      }
      const l = ctx.db.get(key!, "list");
      if (!l) return count === undefined ? null : [];
      const out: number[] = [];
      const want = count === undefined ? 1 : count === 0 ? Number.POSITIVE_INFINITY : count;
      let skip = Math.abs(rank) - 1;
      const n = l.length;
      for (let k = 0; k < n && (maxlen === 0 || k < maxlen) && out.length < want; k++) {
        const i = rank > 0 ? k : n - 1 - k;
        if (l[i] === element) {
          if (skip > 0) skip--;
          else out.push(i);
        }
      }
      return count === undefined ? (out[0] ?? null) : out;
    },
  },
  lmpop: {
    arity: -4,
    run(ctx, args) {
      const numkeys = rangedInt(args[0]!, 1, "numkeys should be greater than 0");
      const whereIdx = 1 + numkeys;
      if (whereIdx >= args.length) throw err(SYNTAX);
      const where = side(args[whereIdx]!);
      let count = -1;
      for (let j = whereIdx + 1; j < args.length; j++) {
        if (count === -1 && args[j]!.toUpperCase() === "COUNT" && j + 1 < args.length)
          count = rangedInt(args[++j]!, 1, "count should be greater than 0");
        else throw err(SYNTAX);
      }
      if (count === -1) count = 1;
      for (const key of args.slice(1, whereIdx)) {
        const l = ctx.db.get(key, "list");
        if (!l?.length) continue;
        return [key, popEnd(ctx, key, l, count, where === "LEFT")];
      }
      return null;
    },
  },
  sinterstore: {
    arity: -3,
    run: (ctx, [d, ...ks]) => storeSet(ctx, d!, setOps.inter(ks.map((k) => members(ctx, k)))),
  },
  sunionstore: {
    arity: -3,
    run: (ctx, [d, ...ks]) => storeSet(ctx, d!, setOps.union(ks.map((k) => members(ctx, k)))),
  },
  sdiffstore: {
    arity: -3,
    run: (ctx, [d, ...ks]) => storeSet(ctx, d!, setOps.diff(ks.map((k) => members(ctx, k)))),
  },
  sintercard: {
    arity: -3,
    run(ctx, args) {
      const numkeys = rangedInt(args[0]!, 1, "numkeys should be greater than 0");
      if (numkeys > args.length - 1) throw err("ERR Number of keys can't be greater than number of args");
      let limit = 0;
      for (let i = 1 + numkeys; i < args.length; i++) {
        if (args[i]!.toUpperCase() === "LIMIT" && i + 1 < args.length)
          limit = rangedInt(args[++i]!, 0, "LIMIT can't be negative");
        else throw err(SYNTAX);
      }
      const n = setOps.inter(args.slice(1, 1 + numkeys).map((k) => members(ctx, k))).length;
      return limit ? Math.min(limit, n) : n;
    },
  },
  sscan: {
    arity: -3,
    run: (ctx, [k, c, ...o]) =>
      scanItems(
        [...members(ctx, k!)].map((m) => [m]),
        c!,
        o,
      ),
  },
  zscan: {
    arity: -3,
    run: (ctx, [k, c, ...o]) =>
      scanItems(
        sorted(ctx.db.get(k!, "zset")).map(([m, s]) => [m, formatScore(s)]),
        c!,
        o,
      ),
  },
  zunion: { arity: -3, run: (ctx, args) => zsetOp(ctx, "union", args, null, "zunion") },
  zinter: { arity: -3, run: (ctx, args) => zsetOp(ctx, "inter", args, null, "zinter") },
  zdiff: { arity: -3, run: (ctx, args) => zsetOp(ctx, "diff", args, null, "zdiff") },
  zunionstore: { arity: -4, run: (ctx, [d, ...args]) => zsetOp(ctx, "union", args, d!, "zunionstore") },
  zinterstore: { arity: -4, run: (ctx, [d, ...args]) => zsetOp(ctx, "inter", args, d!, "zinterstore") },
  zdiffstore: { arity: -4, run: (ctx, [d, ...args]) => zsetOp(ctx, "diff", args, d!, "zdiffstore") },
  copy: {
    arity: -3,
    run(ctx, [src, dst, ...opts]) {
      let replace = false;
      for (let i = 0; i < opts.length; i++) {
        const o = opts[i]!.toUpperCase();
        if (o === "REPLACE") replace = true;
        else if (o === "DB" && i + 1 < opts.length) {
          const db = parseInt64(opts[++i]!);
          if (db !== 0) throw err("ERR DB index is out of range");
        } else throw err(SYNTAX);
      }
      if (src === dst) throw err("ERR source and destination objects are the same");
      const v = ctx.db.raw(src!);
      if (!v) return 0;
      if (ctx.db.exists(dst!) && !replace) return 0;
      const ttl = ctx.db.expireAt(src!) ?? null;
      const copy = cloneValue(v);
      ctx.db.put(dst!, copy);
      if (ttl !== null) ctx.db.setExpireAt(dst!, ttl);
      if (v.type === "hash" && copy.type === "hash")
        for (const [f, at] of ctx.db.fieldExpiries(v.v) ?? []) ctx.db.setFieldExpireAt(copy.v, f, at);
      return 1;
    },
  },
  publish: { arity: 3, run: () => 0 },
  memory: {
    arity: -2,
    run(ctx, [subArg, key, ...opts]) {
      const argc = 2 + (key === undefined ? 0 : 1) + opts.length;
      subcommandCheck("memory", subArg!, { USAGE: -3 }, argc);
      for (let i = 0; i < opts.length; i++) {
        if (opts[i]!.toUpperCase() === "SAMPLES" && i + 1 < opts.length) {
          if (parseInt64(opts[++i]!) < 0) throw err(SYNTAX);
        } else throw err(SYNTAX);
      }
      const v = ctx.db.raw(key!);
      return v ? memoryUsage(key!, v) : null;
    },
  },
  hrandfield: {
    arity: -2,
    run(ctx, [k, c, withValues, ...extra]) {
      if (extra.length || (withValues !== undefined && withValues.toUpperCase() !== "WITHVALUES"))
        throw err(SYNTAX);
      const count = c === undefined ? undefined : parseInt64(c);
      const h = ctx.db.get(k!, "hash");
      const entries = [...(h ?? new Map<string, string>())];
      if (count === undefined) return randomItem(entries)?.[0] ?? null;
      const picked = count >= 0 ? pick(entries, count) : pickRepeating(entries, -count);
      return withValues ? picked.flat() : picked.map(([f]) => f);
    },
  },
  object: {
    arity: -2,
    run(ctx, [sub, key]) {
      const s = sub!.toUpperCase();
      if (key === undefined || !["ENCODING", "REFCOUNT", "IDLETIME", "FREQ"].includes(s))
        throw err(`ERR unknown subcommand or wrong number of arguments for '${sub}'. Try OBJECT HELP.`);
      const v = ctx.db.raw(key);
      if (!v) return null;
      if (s === "REFCOUNT") return 1;
      if (s === "IDLETIME") return 0;
      if (s === "FREQ")
        throw err(
          "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        );
      // Redis' small encodings for small values (the thresholds are its defaults).
      switch (v.type) {
        case "string":
          return /^-?(0|[1-9][0-9]{0,18})$/.test(v.v) && Number.isSafeInteger(Number(v.v))
            ? "int"
            : v.v.length <= 44
              ? "embstr"
              : "raw";
        case "list":
          return "quicklist";
        case "set":
          return [...v.v].every((m) => /^-?(0|[1-9][0-9]{0,18})$/.test(m)) && v.v.size <= 512
            ? "intset"
            : "hashtable";
        case "hash":
          return v.v.size <= 128 && [...v.v].every(([f, x]) => f.length <= 64 && x.length <= 64)
            ? ctx.db.fieldExpiries(v.v)
              ? "listpackex" // Redis 7.4+: a small hash with field TTLs
              : "listpack"
            : "hashtable";
        case "zset":
          return v.v.size <= 128 && [...v.v.keys()].every((m) => m.length <= 64) ? "listpack" : "skiplist";
        default:
          return "stream";
      }
    },
  },
};
