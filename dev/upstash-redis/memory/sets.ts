/** Set commands of the embedded store. */
import { err, parseInt64 } from "./db";
import { pick, pickRepeating, randomItem } from "./random";
import type { CommandTable, Ctx } from "./types";

export function members(ctx: Ctx, key: string): Set<string> {
  return ctx.db.get(key, "set") ?? new Set();
}

/** SINTER / SUNION / SDIFF over the sets of their keys, shared with the *STORE variants. */
export const setOps = {
  inter(sets: Set<string>[]): string[] {
    return [...sets[0]!].filter((m) => sets.every((s) => s.has(m)));
  },
  union(sets: Set<string>[]): string[] {
    return [...new Set(sets.flatMap((s) => [...s]))];
  },
  diff([first, ...others]: Set<string>[]): string[] {
    return [...first!].filter((m) => !others.some((s) => s.has(m)));
  },
};

export const setCommands: CommandTable = {
  sadd: {
    arity: -3,
    run(ctx, [k, ...ms]) {
      const s = ctx.db.getOrCreate(k!, "set");
      let n = 0;
      for (const m of ms) {
        if (!s.has(m)) {
          s.add(m);
          n++;
        }
      }
      return n;
    },
  },
  srem: {
    arity: -3,
    run(ctx, [k, ...ms]) {
      const s = ctx.db.get(k!, "set");
      if (!s) return 0;
      const n = ms.filter((m) => s.delete(m)).length;
      ctx.db.dropIfEmpty(k!);
      return n;
    },
  },
  smembers: { arity: 2, run: (ctx, [k]) => [...members(ctx, k!)] },
  sismember: { arity: 3, run: (ctx, [k, m]) => (members(ctx, k!).has(m!) ? 1 : 0) },
  smismember: {
    arity: -3,
    run(ctx, [k, ...ms]) {
      const s = members(ctx, k!);
      return ms.map((m) => (s.has(m) ? 1 : 0));
    },
  },
  scard: { arity: 2, run: (ctx, [k]) => members(ctx, k!).size },
  spop: {
    arity: -2,
    run(ctx, [k, c]) {
      const s = ctx.db.get(k!, "set");
      const n = c === undefined ? 1 : parseInt64(c, "ERR value is out of range, must be positive");
      if (n < 0) throw err("ERR value is out of range, must be positive");
      if (!s) return c === undefined ? null : [];
      const out = pick(s, n);
      for (const m of out) s.delete(m);
      ctx.db.dropIfEmpty(k!);
      return c === undefined ? (out[0] ?? null) : out;
    },
  },
  srandmember: {
    arity: -2,
    run(ctx, [k, c]) {
      const s = members(ctx, k!);
      if (c === undefined) return randomItem([...s]) ?? null;
      const n = parseInt64(c);
      // A negative count allows repeats and always returns |count| members.
      return n >= 0 ? pick(s, n) : pickRepeating([...s], -n);
    },
  },
  sinter: { arity: -2, run: (ctx, keys) => setOps.inter(keys.map((k) => members(ctx, k))) },
  sunion: { arity: -2, run: (ctx, keys) => setOps.union(keys.map((k) => members(ctx, k))) },
  sdiff: { arity: -2, run: (ctx, keys) => setOps.diff(keys.map((k) => members(ctx, k))) },
  smove: {
    arity: 4,
    run(ctx, [src, dst, m]) {
      const s = ctx.db.get(src!, "set");
      ctx.db.get(dst!, "set");
      if (!s?.has(m!)) return 0;
      s.delete(m!);
      ctx.db.dropIfEmpty(src!);
      ctx.db.getOrCreate(dst!, "set").add(m!);
      return 1;
    },
  },
};
