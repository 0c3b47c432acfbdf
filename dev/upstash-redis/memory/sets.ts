/** Set commands of the embedded store. */
import { err, parseInt64 } from "./db";
import type { CommandTable, Ctx } from "./types";

function members(ctx: Ctx, key: string): Set<string> {
  return ctx.db.get(key, "set") ?? new Set();
}

function pick(set: Set<string>, n: number): string[] {
  const all = [...set];
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, n);
}

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
      if (c === undefined) return pick(s, 1)[0] ?? null;
      const n = parseInt64(c);
      if (n >= 0) return pick(s, n);
      // A negative count allows repeats and always returns |count| members.
      const all = [...s];
      if (!all.length) return [];
      return Array.from({ length: -n }, () => all[Math.floor(Math.random() * all.length)]!);
    },
  },
  sinter: {
    arity: -2,
    run(ctx, keys) {
      const sets = keys.map((k) => members(ctx, k));
      return [...sets[0]!].filter((m) => sets.every((s) => s.has(m)));
    },
  },
  sunion: {
    arity: -2,
    run: (ctx, keys) => [...new Set(keys.flatMap((k) => [...members(ctx, k)]))],
  },
  sdiff: {
    arity: -2,
    run(ctx, [first, ...rest]) {
      const others = rest.map((k) => members(ctx, k));
      return [...members(ctx, first!)].filter((m) => !others.some((s) => s.has(m)));
    },
  },
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
