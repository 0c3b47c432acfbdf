/** Hash commands of the embedded store (field expiry and HGETDEL/HGETEX/HSETEX: hash-field-expiry.ts). */
import { Status } from "../reply";
import { err, formatIncrFloat, inInt64, parseBigInt, parseFloatArg } from "./db";
import { hashFieldExpiryCommands } from "./hash-field-expiry";
import { scanItems } from "./scan";
import type { CommandTable, Ctx } from "./types";

/** HSET/HMSET: writes field-value pairs; answers how many fields are new. */
function setFields(ctx: Ctx, key: string, fv: string[], command: string): number {
  if (fv.length % 2 !== 0) throw err(`ERR wrong number of arguments for '${command}' command`);
  const h = ctx.db.getOrCreate(key, "hash");
  let added = 0;
  for (let i = 0; i < fv.length; i += 2) {
    if (!h.has(fv[i]!)) added++;
    h.set(fv[i]!, fv[i + 1]!);
    ctx.db.setFieldExpireAt(h, fv[i]!, null); // a plain set discards the field's TTL
  }
  return added;
}

export const hashCommands: CommandTable = {
  hset: { arity: -4, run: (ctx, [k, ...fv]) => setFields(ctx, k!, fv, "hset") },
  hmset: {
    arity: -4,
    run(ctx, [k, ...fv]) {
      setFields(ctx, k!, fv, "hmset");
      return new Status("OK");
    },
  },
  hsetnx: {
    arity: 4,
    run(ctx, [k, f, v]) {
      const h = ctx.db.getOrCreate(k!, "hash");
      if (h.has(f!)) return 0;
      h.set(f!, v!);
      return 1;
    },
  },
  hget: { arity: 3, run: (ctx, [k, f]) => ctx.db.get(k!, "hash")?.get(f!) ?? null },
  hmget: {
    arity: -3,
    run(ctx, [k, ...fs]) {
      const h = ctx.db.get(k!, "hash");
      return fs.map((f) => h?.get(f) ?? null);
    },
  },
  hgetall: { arity: 2, run: (ctx, [k]) => [...(ctx.db.get(k!, "hash") ?? new Map())].flat() },
  hkeys: { arity: 2, run: (ctx, [k]) => [...(ctx.db.get(k!, "hash")?.keys() ?? [])] },
  hvals: { arity: 2, run: (ctx, [k]) => [...(ctx.db.get(k!, "hash")?.values() ?? [])] },
  hlen: { arity: 2, run: (ctx, [k]) => ctx.db.get(k!, "hash")?.size ?? 0 },
  hstrlen: { arity: 3, run: (ctx, [k, f]) => (ctx.db.get(k!, "hash")?.get(f!) ?? "").length },
  hexists: { arity: 3, run: (ctx, [k, f]) => (ctx.db.get(k!, "hash")?.has(f!) ? 1 : 0) },
  hdel: {
    arity: -3,
    run(ctx, [k, ...fs]) {
      const h = ctx.db.get(k!, "hash");
      if (!h) return 0;
      const n = fs.filter((f) => {
        ctx.db.setFieldExpireAt(h, f, null);
        return h.delete(f);
      }).length;
      ctx.db.dropIfEmpty(k!);
      return n;
    },
  },
  hincrby: {
    arity: 4,
    run(ctx, [k, f, by]) {
      const inc = parseBigInt(by!);
      if (inc === null) throw err("ERR value is not an integer or out of range");
      const h = ctx.db.getOrCreate(k!, "hash");
      const cur = h.get(f!);
      const base = cur === undefined ? 0n : parseBigInt(cur);
      if (base === null) throw err("ERR hash value is not an integer");
      const next = base + inc;
      if (!inInt64(next)) throw err("ERR increment or decrement would overflow");
      h.set(f!, next.toString());
      return Number(next);
    },
  },
  hincrbyfloat: {
    arity: 4,
    run(ctx, [k, f, by]) {
      const inc = parseFloatArg(by!);
      const h = ctx.db.getOrCreate(k!, "hash");
      const cur = h.get(f!);
      const base = cur === undefined ? 0 : parseFloatArg(cur, "ERR hash value is not a float");
      const next = base + inc;
      if (!Number.isFinite(next)) throw err("ERR increment would produce NaN or Infinity");
      const s = formatIncrFloat(next);
      h.set(f!, s);
      return s;
    },
  },
  hscan: {
    arity: -3,
    run(ctx, [k, cursorArg, ...opts]) {
      const entries = [...(ctx.db.get(k!, "hash") ?? new Map<string, string>())];
      return scanItems(entries, cursorArg!, opts);
    },
  },
  ...hashFieldExpiryCommands,
};
