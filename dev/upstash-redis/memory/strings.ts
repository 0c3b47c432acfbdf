/** String commands of the embedded store. */
import { Status } from "../reply";
import {
  err,
  formatIncrFloat,
  inInt64,
  NOT_INTEGER,
  parseBigInt,
  parseFloatArg,
  parseInt64,
  SYNTAX,
} from "./db";
import type { CommandTable, Ctx } from "./types";

const OK = new Status("OK");

/** Parses EX/PX/EXAT/PXAT (and KEEPTTL/PERSIST where allowed) into an absolute ms deadline. */
function parseExpiry(ctx: Ctx, opt: string, value: string | undefined, command: string): number {
  if (value === undefined) throw err(SYNTAX);
  const n = parseInt64(value);
  if (n <= 0) throw err(`ERR invalid expire time in '${command}' command`);
  const now = ctx.db.now();
  switch (opt) {
    case "EX":
      return now + n * 1000;
    case "PX":
      return now + n;
    case "EXAT":
      return n * 1000;
    default:
      return n; // PXAT
  }
}

/** SETEX/PSETEX: the time is checked before anything is written. */
function setWithExpiry(ctx: Ctx, key: string, v: string, unit: "EX" | "PX", time: string, command: string) {
  const at = parseExpiry(ctx, unit, time, command);
  ctx.db.setString(key, v);
  ctx.db.setExpireAt(key, at);
  return OK;
}

function incrBy(ctx: Ctx, key: string, by: bigint): number {
  const cur = ctx.db.get(key, "string");
  const base = cur === undefined ? 0n : parseBigInt(cur);
  if (base === null) throw err(NOT_INTEGER);
  const next = base + by;
  if (!inInt64(next)) throw err("ERR increment or decrement would overflow");
  ctx.db.updateString(key, next.toString());
  return Number(next);
}

function bigArg(s: string): bigint {
  const n = parseBigInt(s);
  if (n === null) throw err(NOT_INTEGER);
  return n;
}

export const stringCommands: CommandTable = {
  get: { arity: 2, run: (ctx, [k]) => ctx.db.get(k!, "string") ?? null },
  set: {
    arity: -3,
    run(ctx, [key, value, ...opts]) {
      let cond: "NX" | "XX" | undefined;
      let get = false;
      let expireAt: number | null = null;
      let keepTtl = false;
      let sawExpiry = false;
      for (let i = 0; i < opts.length; i++) {
        const o = opts[i]!.toUpperCase();
        if ((o === "NX" || o === "XX") && !cond) cond = o;
        else if (o === "GET" && !get) get = true;
        else if (o === "KEEPTTL" && !sawExpiry) {
          keepTtl = true;
          sawExpiry = true;
        } else if ((o === "EX" || o === "PX" || o === "EXAT" || o === "PXAT") && !sawExpiry) {
          sawExpiry = true;
          expireAt = parseExpiry(ctx, o, opts[++i], "set");
        } else throw err(SYNTAX);
      }
      const old = get ? (ctx.db.get(key!, "string") ?? null) : null;
      const exists = ctx.db.exists(key!);
      if ((cond === "NX" && exists) || (cond === "XX" && !exists)) return get ? old : null;
      ctx.db.setString(key!, value!, keepTtl);
      if (expireAt !== null) ctx.db.setExpireAt(key!, expireAt);
      return get ? old : OK;
    },
  },
  setnx: {
    arity: 3,
    run(ctx, [k, v]) {
      if (ctx.db.exists(k!)) return 0;
      ctx.db.setString(k!, v!);
      return 1;
    },
  },
  setex: { arity: 4, run: (ctx, [k, s, v]) => setWithExpiry(ctx, k!, v!, "EX", s!, "setex") },
  psetex: { arity: 4, run: (ctx, [k, ms, v]) => setWithExpiry(ctx, k!, v!, "PX", ms!, "psetex") },
  mget: {
    arity: -2,
    run: (ctx, keys) => keys.map((k) => (ctx.db.typeOf(k) === "string" ? ctx.db.get(k, "string")! : null)),
  },
  mset: {
    arity: -3,
    run(ctx, args) {
      if (args.length % 2 !== 0) throw err("ERR wrong number of arguments for 'mset' command");
      for (let i = 0; i < args.length; i += 2) ctx.db.setString(args[i]!, args[i + 1]!);
      return OK;
    },
  },
  msetnx: {
    arity: -3,
    run(ctx, args) {
      if (args.length % 2 !== 0) throw err("ERR wrong number of arguments for 'msetnx' command");
      for (let i = 0; i < args.length; i += 2) if (ctx.db.exists(args[i]!)) return 0;
      for (let i = 0; i < args.length; i += 2) ctx.db.setString(args[i]!, args[i + 1]!);
      return 1;
    },
  },
  incr: { arity: 2, run: (ctx, [k]) => incrBy(ctx, k!, 1n) },
  decr: { arity: 2, run: (ctx, [k]) => incrBy(ctx, k!, -1n) },
  incrby: { arity: 3, run: (ctx, [k, n]) => incrBy(ctx, k!, bigArg(n!)) },
  decrby: { arity: 3, run: (ctx, [k, n]) => incrBy(ctx, k!, -bigArg(n!)) },
  incrbyfloat: {
    arity: 3,
    run(ctx, [k, n]) {
      const cur = ctx.db.get(k!, "string");
      const base = cur === undefined ? 0 : parseFloatArg(cur);
      const next = base + parseFloatArg(n!);
      if (!Number.isFinite(next)) throw err("ERR increment would produce NaN or Infinity");
      const s = formatIncrFloat(next);
      ctx.db.updateString(k!, s);
      return s;
    },
  },
  append: {
    arity: 3,
    run(ctx, [k, v]) {
      const next = (ctx.db.get(k!, "string") ?? "") + v!;
      ctx.db.updateString(k!, next);
      return next.length;
    },
  },
  strlen: { arity: 2, run: (ctx, [k]) => (ctx.db.get(k!, "string") ?? "").length },
  getdel: {
    arity: 2,
    run(ctx, [k]) {
      const v = ctx.db.get(k!, "string");
      if (v === undefined) return null;
      ctx.db.delete(k!);
      return v;
    },
  },
  getset: {
    arity: 3,
    run(ctx, [k, v]) {
      const old = ctx.db.get(k!, "string") ?? null;
      ctx.db.setString(k!, v!);
      return old;
    },
  },
  getex: {
    arity: -2,
    run(ctx, [k, ...opts]) {
      let at: number | null | undefined;
      for (let i = 0; i < opts.length; i++) {
        const o = opts[i]!.toUpperCase();
        if (at !== undefined) throw err(SYNTAX);
        if (o === "PERSIST") at = null;
        else if (o === "EX" || o === "PX" || o === "EXAT" || o === "PXAT")
          at = parseExpiry(ctx, o, opts[++i], "getex");
        else throw err(SYNTAX);
      }
      const v = ctx.db.get(k!, "string");
      if (v === undefined) return null;
      if (at !== undefined) ctx.db.setExpireAt(k!, at);
      return v;
    },
  },
  getrange: {
    arity: 4,
    run(ctx, [k, s, e]) {
      const v = ctx.db.get(k!, "string") ?? "";
      let start = parseInt64(s!);
      let end = parseInt64(e!);
      if (start < 0 && end < 0 && start > end) return "";
      if (start < 0) start = Math.max(0, v.length + start);
      if (end < 0) end = Math.max(0, v.length + end);
      end = Math.min(end, v.length - 1);
      if (start > end || v.length === 0) return "";
      return v.slice(start, end + 1);
    },
  },
};
