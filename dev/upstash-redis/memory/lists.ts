/** List commands of the embedded store. */
import { Status } from "../reply";
import { err, parseInt64, SYNTAX, sliceBounds } from "./db";
import type { CommandTable, Ctx } from "./types";

/** Removes up to n elements from one end of a list, in pop order, dropping the key if emptied. */
export function popEnd(ctx: Ctx, key: string, l: string[], n: number, left: boolean): string[] {
  const out = left ? l.splice(0, n) : l.splice(Math.max(0, l.length - n)).reverse();
  ctx.db.dropIfEmpty(key);
  return out;
}

function pop(ctx: Ctx, key: string, count: string | undefined, left: boolean) {
  const n = count === undefined ? 1 : parseInt64(count, "ERR value is out of range, must be positive");
  if (n < 0) throw err("ERR value is out of range, must be positive");
  const l = ctx.db.get(key, "list");
  if (!l) return null;
  const out = popEnd(ctx, key, l, n, left);
  return count === undefined ? (out[0] ?? null) : out;
}

/** LPUSH/RPUSH, and with `onlyIfExists` LPUSHX/RPUSHX; answers the new length. */
function push(ctx: Ctx, key: string, values: string[], left: boolean, onlyIfExists: boolean): number {
  const l = onlyIfExists ? ctx.db.get(key, "list") : ctx.db.getOrCreate(key, "list");
  if (!l) return 0;
  if (left) for (const v of values) l.unshift(v);
  else l.push(...values);
  return l.length;
}

export const listCommands: CommandTable = {
  lpush: { arity: -3, run: (ctx, [k, ...vs]) => push(ctx, k!, vs, true, false) },
  rpush: { arity: -3, run: (ctx, [k, ...vs]) => push(ctx, k!, vs, false, false) },
  lpushx: { arity: -3, run: (ctx, [k, ...vs]) => push(ctx, k!, vs, true, true) },
  rpushx: { arity: -3, run: (ctx, [k, ...vs]) => push(ctx, k!, vs, false, true) },
  lpop: { arity: -2, run: (ctx, [k, c]) => pop(ctx, k!, c, true) },
  rpop: { arity: -2, run: (ctx, [k, c]) => pop(ctx, k!, c, false) },
  llen: { arity: 2, run: (ctx, [k]) => ctx.db.get(k!, "list")?.length ?? 0 },
  lrange: {
    arity: 4,
    run(ctx, [k, s, e]) {
      const l = ctx.db.get(k!, "list") ?? [];
      const [a, b] = sliceBounds(l.length, parseInt64(s!), parseInt64(e!));
      return l.slice(a, b);
    },
  },
  lindex: {
    arity: 3,
    run(ctx, [k, i]) {
      const l = ctx.db.get(k!, "list") ?? [];
      const n = parseInt64(i!);
      return l[n < 0 ? l.length + n : n] ?? null;
    },
  },
  lset: {
    arity: 4,
    run(ctx, [k, i, v]) {
      const l = ctx.db.get(k!, "list");
      if (!l) throw err("ERR no such key");
      let n = parseInt64(i!);
      if (n < 0) n += l.length;
      if (n < 0 || n >= l.length) throw err("ERR index out of range");
      l[n] = v!;
      return new Status("OK");
    },
  },
  lrem: {
    arity: 4,
    run(ctx, [k, c, v]) {
      const count = parseInt64(c!);
      const l = ctx.db.get(k!, "list");
      if (!l) return 0;
      let removed = 0;
      const limit = count === 0 ? Number.POSITIVE_INFINITY : Math.abs(count);
      if (count >= 0) {
        for (let i = 0; i < l.length && removed < limit; ) {
          if (l[i] === v) {
            l.splice(i, 1);
            removed++;
          } else i++;
        }
      } else {
        for (let i = l.length - 1; i >= 0 && removed < limit; i--) {
          if (l[i] === v) {
            l.splice(i, 1);
            removed++;
          }
        }
      }
      ctx.db.dropIfEmpty(k!);
      return removed;
    },
  },
  ltrim: {
    arity: 4,
    run(ctx, [k, s, e]) {
      const start = parseInt64(s!);
      const stop = parseInt64(e!);
      const l = ctx.db.get(k!, "list");
      if (l) {
        const [a, b] = sliceBounds(l.length, start, stop);
        const kept = l.slice(a, b);
        l.length = 0;
        l.push(...kept);
        ctx.db.dropIfEmpty(k!);
      }
      return new Status("OK");
    },
  },
  linsert: {
    arity: 5,
    run(ctx, [k, where, pivot, v]) {
      const w = where!.toUpperCase();
      if (w !== "BEFORE" && w !== "AFTER") throw err(SYNTAX);
      const l = ctx.db.get(k!, "list");
      if (!l) return 0;
      const i = l.indexOf(pivot!);
      if (i < 0) return -1;
      l.splice(w === "BEFORE" ? i : i + 1, 0, v!);
      return l.length;
    },
  },
};
