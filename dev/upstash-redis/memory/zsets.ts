/** Sorted-set commands of the embedded store. Scores live in a Map; ordering is computed on read,
 * which is plenty for a local emulator. */
import type { Reply } from "../reply";
import { err, formatScore, parseFloatArg, parseInt64, SYNTAX, sliceBounds } from "./db";
import type { CommandTable, Ctx } from "./types";

type Item = [member: string, score: number];

/** Redis' sorted-set order: by score, ties by member bytes. */
const byScore = (a: Item, b: Item): number => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

export function sorted(z: Map<string, number> | undefined): Item[] {
  return z ? [...z].sort(byScore) : [];
}

type Bound = { v: number; excl: boolean };
const NOT_FLOAT_RANGE = "ERR min or max is not a float";

function scoreBound(s: string): Bound {
  const excl = s.startsWith("(");
  return { v: parseFloatArg(excl ? s.slice(1) : s, NOT_FLOAT_RANGE), excl };
}

function inScore(score: number, min: Bound, max: Bound): boolean {
  return (min.excl ? score > min.v : score >= min.v) && (max.excl ? score < max.v : score <= max.v);
}

type LexBound = { v: string; excl: boolean } | "-" | "+";
function lexBound(s: string): LexBound {
  if (s === "-" || s === "+") return s;
  if (s.startsWith("(") || s.startsWith("[")) return { v: s.slice(1), excl: s[0] === "(" };
  throw err("ERR min or max not valid string range item");
}

function inLex(m: string, min: LexBound, max: LexBound): boolean {
  const above = min === "-" ? true : min === "+" ? false : min.excl ? m > min.v : m >= min.v;
  const below = max === "+" ? true : max === "-" ? false : max.excl ? m < max.v : m <= max.v;
  return above && below;
}

/** The items of key with scores in [a, b] (ZRANGEBYSCORE bounds), in order; bounds parse first. */
function scoreRange(ctx: Ctx, key: string, a: string, b: string): Item[] {
  const min = scoreBound(a);
  const max = scoreBound(b);
  return sorted(ctx.db.get(key, "zset")).filter(([, s]) => inScore(s, min, max));
}

/** The items of key with members in [a, b] (ZRANGEBYLEX bounds), in order; bounds parse first. */
function lexRange(ctx: Ctx, key: string, a: string, b: string): Item[] {
  const min = lexBound(a);
  const max = lexBound(b);
  return sorted(ctx.db.get(key, "zset")).filter(([m]) => inLex(m, min, max));
}

export function withScores(items: Item[], scores: boolean): Reply[] {
  return scores ? items.flatMap(([m, s]) => [m, formatScore(s)]) : items.map(([m]) => m);
}

/** The ZRANGE family in one place: ZRANGE's Redis 6.2 syntax covers the older commands. */
function zrange(
  ctx: Ctx,
  key: string,
  a: string,
  b: string,
  o: { by: "rank" | "score" | "lex"; rev: boolean; limit?: [number, number]; scores: boolean },
): Reply {
  let items: Item[];
  if (o.by === "rank") {
    const start = parseInt64(a);
    const stop = parseInt64(b);
    const all = sorted(ctx.db.get(key, "zset"));
    if (o.rev) all.reverse();
    const [s, e] = sliceBounds(all.length, start, stop);
    items = all.slice(s, e);
  } else {
    // With REV the first bound is the max, as in Redis.
    const [lo, hi] = o.rev ? [b, a] : [a, b];
    items = o.by === "score" ? scoreRange(ctx, key, lo, hi) : lexRange(ctx, key, lo, hi);
    if (o.rev) items.reverse();
    if (o.limit) {
      const [off, count] = o.limit;
      if (off < 0) items = [];
      else items = items.slice(off, count < 0 ? undefined : off + count);
    }
  }
  return withScores(items, o.scores);
}

function parseRangeOpts(
  opts: string[],
  initial: { by: "rank" | "score" | "lex"; rev: boolean },
  allowBy: boolean,
) {
  const o: { by: "rank" | "score" | "lex"; rev: boolean; limit?: [number, number]; scores: boolean } = {
    ...initial,
    scores: false,
  };
  for (let i = 0; i < opts.length; i++) {
    const x = opts[i]!.toUpperCase();
    if (x === "WITHSCORES") o.scores = true;
    else if (x === "LIMIT" && i + 2 < opts.length) {
      o.limit = [parseInt64(opts[i + 1]!), parseInt64(opts[i + 2]!)];
      i += 2;
    } else if (allowBy && x === "BYSCORE") o.by = "score";
    else if (allowBy && x === "BYLEX") o.by = "lex";
    else if (allowBy && x === "REV") o.rev = true;
    else throw err(SYNTAX);
  }
  if (o.limit && o.by === "rank")
    throw err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
  if (o.scores && o.by === "lex")
    throw err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  return o;
}

/** ZRANK/ZREVRANK (Redis 7.0: no WITHSCORE, the arity admits no options). */
function rank(ctx: Ctx, key: string, member: string, rev: boolean): number | null {
  const all = sorted(ctx.db.get(key, "zset"));
  if (rev) all.reverse();
  const i = all.findIndex(([m]) => m === member);
  return i < 0 ? null : i;
}

function popExtreme(ctx: Ctx, key: string, count: string | undefined, max: boolean): Reply {
  const n = count === undefined ? 1 : parseInt64(count, "ERR value is out of range, must be positive");
  if (n < 0) throw err("ERR value is out of range, must be positive");
  const all = sorted(ctx.db.get(key, "zset"));
  if (max) all.reverse();
  const out = all.slice(0, n);
  removeItems(ctx, key, out);
  return withScores(out, true);
}

function removeItems(ctx: Ctx, key: string, items: Item[]): number {
  const z = ctx.db.get(key, "zset");
  for (const [m] of items) z?.delete(m);
  ctx.db.dropIfEmpty(key);
  return items.length;
}

export const zsetCommands: CommandTable = {
  zadd: {
    arity: -4,
    run(ctx, [key, ...rest]) {
      const f = new Set<string>();
      let i = 0;
      for (; i < rest.length; i++) {
        const x = rest[i]!.toUpperCase();
        if (["NX", "XX", "GT", "LT", "CH", "INCR"].includes(x)) f.add(x);
        else break;
      }
      const pairs = rest.slice(i);
      if (pairs.length === 0 || pairs.length % 2 !== 0) throw err(SYNTAX);
      if (f.has("NX") && f.has("XX")) throw err("ERR XX and NX options at the same time are not compatible");
      if ((f.has("GT") && f.has("LT")) || (f.has("NX") && (f.has("GT") || f.has("LT"))))
        throw err("ERR GT, LT, and/or NX options at the same time are not compatible");
      if (f.has("INCR") && pairs.length > 2)
        throw err("ERR INCR option supports a single increment-element pair");
      const parsed: Item[] = [];
      for (let j = 0; j < pairs.length; j += 2) parsed.push([pairs[j + 1]!, parseFloatArg(pairs[j]!)]);
      const existing = ctx.db.get(key!, "zset");
      if (!existing && f.has("XX")) return f.has("INCR") ? null : 0;
      const z = existing ?? ctx.db.getOrCreate(key!, "zset");
      let added = 0;
      let changed = 0;
      let incrResult: Reply = null;
      for (const [m, s] of parsed) {
        const cur = z.get(m);
        if ((cur !== undefined && f.has("NX")) || (cur === undefined && f.has("XX"))) continue;
        let next = s;
        if (f.has("INCR")) {
          next = (cur ?? 0) + s;
          if (Number.isNaN(next)) throw err("ERR resulting score is not a number (NaN)");
        }
        if (cur !== undefined && ((f.has("GT") && next <= cur) || (f.has("LT") && next >= cur))) continue;
        if (cur === undefined) added++;
        else if (cur !== next) changed++;
        z.set(m, next);
        incrResult = formatScore(next);
      }
      ctx.db.dropIfEmpty(key!);
      if (f.has("INCR")) return incrResult;
      return f.has("CH") ? added + changed : added;
    },
  },
  zincrby: {
    arity: 4,
    run(ctx, [k, inc, m]) {
      const by = parseFloatArg(inc!);
      const z = ctx.db.getOrCreate(k!, "zset");
      const next = (z.get(m!) ?? 0) + by;
      if (Number.isNaN(next)) throw err("ERR resulting score is not a number (NaN)");
      z.set(m!, next);
      return formatScore(next);
    },
  },
  zrem: {
    arity: -3,
    run(ctx, [k, ...ms]) {
      const z = ctx.db.get(k!, "zset");
      if (!z) return 0;
      const n = ms.filter((m) => z.delete(m)).length;
      ctx.db.dropIfEmpty(k!);
      return n;
    },
  },
  zscore: {
    arity: 3,
    run(ctx, [k, m]) {
      const s = ctx.db.get(k!, "zset")?.get(m!);
      return s === undefined ? null : formatScore(s);
    },
  },
  zmscore: {
    arity: -3,
    run(ctx, [k, ...ms]) {
      const z = ctx.db.get(k!, "zset");
      return ms.map((m) => {
        const s = z?.get(m);
        return s === undefined ? null : formatScore(s);
      });
    },
  },
  zcard: { arity: 2, run: (ctx, [k]) => ctx.db.get(k!, "zset")?.size ?? 0 },
  zcount: { arity: 4, run: (ctx, [k, a, b]) => scoreRange(ctx, k!, a!, b!).length },
  zlexcount: { arity: 4, run: (ctx, [k, a, b]) => lexRange(ctx, k!, a!, b!).length },
  zrange: {
    arity: -4,
    run: (ctx, [k, a, b, ...o]) =>
      zrange(ctx, k!, a!, b!, parseRangeOpts(o, { by: "rank", rev: false }, true)),
  },
  zrevrange: {
    arity: -4,
    run: (ctx, [k, a, b, ...o]) =>
      zrange(ctx, k!, a!, b!, parseRangeOpts(o, { by: "rank", rev: true }, false)),
  },
  zrangebyscore: {
    arity: -4,
    run: (ctx, [k, a, b, ...o]) =>
      zrange(ctx, k!, a!, b!, parseRangeOpts(o, { by: "score", rev: false }, false)),
  },
  zrevrangebyscore: {
    arity: -4,
    run: (ctx, [k, a, b, ...o]) =>
      zrange(ctx, k!, a!, b!, parseRangeOpts(o, { by: "score", rev: true }, false)),
  },
  zrank: { arity: 3, run: (ctx, [k, m]) => rank(ctx, k!, m!, false) },
  zrevrank: { arity: 3, run: (ctx, [k, m]) => rank(ctx, k!, m!, true) },
  zremrangebyscore: {
    arity: 4,
    run: (ctx, [k, a, b]) => removeItems(ctx, k!, scoreRange(ctx, k!, a!, b!)),
  },
  zremrangebylex: {
    arity: 4,
    run: (ctx, [k, a, b]) => removeItems(ctx, k!, lexRange(ctx, k!, a!, b!)),
  },
  zremrangebyrank: {
    arity: 4,
    run(ctx, [k, a, b]) {
      const start = parseInt64(a!);
      const stop = parseInt64(b!);
      const all = sorted(ctx.db.get(k!, "zset"));
      const [s, e] = sliceBounds(all.length, start, stop);
      return removeItems(ctx, k!, all.slice(s, e));
    },
  },
  zpopmin: { arity: -2, run: (ctx, [k, c]) => popExtreme(ctx, k!, c, false) },
  zpopmax: { arity: -2, run: (ctx, [k, c]) => popExtreme(ctx, k!, c, true) },
};
