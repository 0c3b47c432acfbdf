/**
 * Hash-field expiry of the embedded store: HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT HTTL HPTTL
 * HEXPIRETIME HPEXPIRETIME HPERSIST (Redis 7.4) and HGETDEL HGETEX HSETEX (Redis 8.0), with their
 * argument order, reply codes and error strings. Field TTLs live in the keyspace (Db), which drops
 * expired fields lazily on any access of the hash and in its periodic sweep, and deletes a hash
 * whose last field expired. Spread into hashCommands (hashes.ts).
 */
import type { Reply } from "../reply";
import { err, HFE_MAX_ABS_TIME_MSEC, NOT_INTEGER, parseBigInt, SYNTAX } from "./db";
import type { CommandTable, Ctx } from "./types";

const FIELDS_MISSING = "ERR Mandatory argument FIELDS is missing or not at the right position";
const NUMFIELDS_MISMATCH = "ERR The `numfields` parameter must match the number of arguments";
const NUMFIELDS_POSITIVE = "ERR Number of fields must be a positive integer";

/** parseExpireTime (t_hash.c): a non-negative integer, in range, plus basetime → ms epoch. */
function parseExpireTime(s: string, seconds: boolean, basetime: number, command: string): number {
  const big = parseBigInt(s);
  if (big === null) throw err(NOT_INTEGER);
  if (big < 0n) throw err("ERR invalid expire time, must be >= 0");
  const tooBig = () => err(`ERR invalid expire time in '${command}' command`);
  let v = big;
  if (seconds) {
    if (v > BigInt(Math.floor(HFE_MAX_ABS_TIME_MSEC / 1000))) throw tooBig();
    v *= 1000n;
  }
  if (v > BigInt(HFE_MAX_ABS_TIME_MSEC - basetime)) throw tooBig();
  return Number(v) + basetime;
}

/** getRangeLongFromObjectOrReply(…, 1, LONG_MAX, msg): the numfields argument. */
function parseNumFields(s: string, message: string): number {
  const n = parseBigInt(s);
  if (n === null || n < 1n) throw err(message);
  return Number(n);
}

/** `FIELDS numfields f1 f2 …` starting at args[at] (args exclude the command name). */
function fieldsAt(args: string[], at: number, message = NUMFIELDS_POSITIVE): string[] {
  if (args[at]?.toUpperCase() !== "FIELDS") throw err(FIELDS_MISSING);
  const n = parseNumFields(args[at + 1] ?? "", message);
  const fields = args.slice(at + 2);
  if (n !== fields.length) throw err(NUMFIELDS_MISMATCH);
  return fields;
}

/** The hash at key (WRONGTYPE for other types), expired fields already dropped. */
const hashAt = (ctx: Ctx, key: string) => ctx.db.get(key, "hash");

function deleteField(ctx: Ctx, h: Map<string, string>, field: string): void {
  ctx.db.setFieldExpireAt(h, field, null);
  h.delete(field);
}

type Cond = "NX" | "XX" | "GT" | "LT" | null;

/** hashTypeSetEx: -2 no such field, 0 condition not met, 1 set, 2 deleted (time in the past). */
function setFieldExpiry(ctx: Ctx, h: Map<string, string>, field: string, at: number, cond: Cond): number {
  if (!h.has(field)) return -2;
  const prev = ctx.db.fieldExpireAt(h, field);
  if (cond === "NX" && prev !== null) return 0;
  if ((cond === "XX" || cond === "GT") && prev === null) return 0;
  if (cond === "GT" && prev !== null && prev >= at) return 0;
  if (cond === "LT" && prev !== null && prev <= at) return 0;
  if (at <= ctx.db.now()) {
    deleteField(ctx, h, field);
    return 2;
  }
  ctx.db.setFieldExpireAt(h, field, at);
  return 1;
}

/** hexpireGenericCommand: H(P)EXPIRE(AT) key time [NX|XX|GT|LT] FIELDS numfields field… */
function hexpire(ctx: Ctx, args: string[], seconds: boolean, relative: boolean, command: string): Reply {
  const [key, time] = args as [string, string];
  const h = hashAt(ctx, key);
  const at = parseExpireTime(time, seconds, relative ? ctx.db.now() : 0, command);
  const opt = args[2]!.toUpperCase();
  const cond: Cond = opt === "NX" || opt === "XX" || opt === "GT" || opt === "LT" ? opt : null;
  const fields = fieldsAt(args, cond ? 3 : 2, "ERR Parameter `numFields` should be greater than 0");
  if (!h) return fields.map(() => -2);
  const out = fields.map((f) => setFieldExpiry(ctx, h, f, at, cond));
  ctx.db.dropIfEmpty(key);
  return out;
}

/** httlGenericCommand: HTTL HPTTL HEXPIRETIME HPEXPIRETIME. */
function httl(ctx: Ctx, args: string[], seconds: boolean, relative: boolean): Reply {
  const h = hashAt(ctx, args[0]!);
  const fields = fieldsAt(args, 1);
  if (!h) return fields.map(() => -2);
  const base = relative ? ctx.db.now() : 0;
  return fields.map((f) => {
    if (!h.has(f)) return -2;
    const at = ctx.db.fieldExpireAt(h, f);
    if (at === null) return -1;
    return seconds ? Math.floor((at + 999 - base) / 1000) : at - base;
  });
}

type ExpiryOpt = "EX" | "PX" | "EXAT" | "PXAT";
const EXPIRY_OPTS = new Set(["EX", "PX", "EXAT", "PXAT"]);

/** An EX/PX/EXAT/PXAT argument → ms epoch. */
function expiryOption(ctx: Ctx, opt: ExpiryOpt, value: string, command: string): number {
  const seconds = opt === "EX" || opt === "EXAT";
  const relative = opt === "EX" || opt === "PX";
  return parseExpireTime(value, seconds, relative ? ctx.db.now() : 0, command);
}

/** HSETEX key [FNX|FXX] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] FIELDS numfields field value … */
function hsetex(ctx: Ctx, args: string[]): Reply {
  const argv = ["hsetex", ...args];
  const arity = () => err("ERR wrong number of arguments for 'hsetex' command");
  let cond: "FNX" | "FXX" | null = null;
  let expiry: ExpiryOpt | "KEEPTTL" | null = null;
  let at = 0;
  let pairs: string[] | null = null;
  for (let i = 2; i < argv.length && !pairs; i++) {
    const o = argv[i]!.toUpperCase();
    if (o === "FIELDS") {
      if (i >= argv.length - 3) throw arity();
      const n = parseBigInt(argv[i + 1]!);
      if (n === null || n < 1n || n > 2147483647n) throw err("ERR invalid number of fields");
      const remaining = argv.length - i - 2;
      if (remaining % 2 !== 0 || Number(n) !== remaining / 2) throw arity();
      pairs = argv.slice(i + 2);
    } else if (EXPIRY_OPTS.has(o) || o === "KEEPTTL") {
      if (expiry) throw err("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified");
      if (o !== "KEEPTTL") {
        if (i >= argv.length - 1) throw err("ERR missing expire time");
        at = expiryOption(ctx, o as ExpiryOpt, argv[++i]!, "hsetex");
      }
      expiry = o as ExpiryOpt | "KEEPTTL";
    } else if (o === "FNX" || o === "FXX") {
      if (cond) throw err("ERR Only one of FXX or FNX arguments can be specified");
      cond = o;
    } else throw err(`ERR unknown argument: ${argv[i]}`);
  }
  if (!pairs) throw err(SYNTAX); // only options, no FIELDS (Redis asserts here)
  const key = args[0]!;
  const existing = hashAt(ctx, key);
  if (!existing && cond === "FXX") return 0;
  if (cond) {
    const h = existing ?? new Map<string, string>();
    let found = 0;
    for (let i = 0; i < pairs.length; i += 2) if (h.has(pairs[i]!)) found++;
    if ((cond === "FNX" && found !== 0) || (cond === "FXX" && found !== pairs.length / 2)) return 0;
  }
  const h = ctx.db.getOrCreate(key, "hash");
  for (let i = 0; i < pairs.length; i += 2) {
    const f = pairs[i]!;
    h.set(f, pairs[i + 1]!);
    if (expiry === null) ctx.db.setFieldExpireAt(h, f, null);
    else if (expiry !== "KEEPTTL") setFieldExpiry(ctx, h, f, at, null);
  }
  ctx.db.dropIfEmpty(key);
  return 1;
}

/** HGETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] FIELDS numfields field … */
function hgetex(ctx: Ctx, args: string[]): Reply {
  const key = args[0]!;
  const h = hashAt(ctx, key);
  const opt = args[1]!.toUpperCase();
  let fieldsPos = 1;
  let at: number | null = null;
  let persist = false;
  if (EXPIRY_OPTS.has(opt)) {
    fieldsPos += 2;
    at = expiryOption(ctx, opt as ExpiryOpt, args[2]!, "hgetex");
  } else if (opt === "PERSIST") {
    fieldsPos += 1;
    persist = true;
  }
  const fields = fieldsAt(args, fieldsPos);
  if (!h) return fields.map(() => null);
  const out = fields.map((f) => {
    const v = h.get(f);
    if (v === undefined) return null;
    if (persist) ctx.db.setFieldExpireAt(h, f, null);
    else if (at !== null) setFieldExpiry(ctx, h, f, at, null);
    return v;
  });
  ctx.db.dropIfEmpty(key);
  return out;
}

export const hashFieldExpiryCommands: CommandTable = {
  hexpire: { arity: -6, run: (ctx, args) => hexpire(ctx, args, true, true, "hexpire") },
  hpexpire: { arity: -6, run: (ctx, args) => hexpire(ctx, args, false, true, "hpexpire") },
  hexpireat: { arity: -6, run: (ctx, args) => hexpire(ctx, args, true, false, "hexpireat") },
  hpexpireat: { arity: -6, run: (ctx, args) => hexpire(ctx, args, false, false, "hpexpireat") },
  httl: { arity: -5, run: (ctx, args) => httl(ctx, args, true, true) },
  hpttl: { arity: -5, run: (ctx, args) => httl(ctx, args, false, true) },
  hexpiretime: { arity: -5, run: (ctx, args) => httl(ctx, args, true, false) },
  hpexpiretime: { arity: -5, run: (ctx, args) => httl(ctx, args, false, false) },
  hpersist: {
    arity: -5,
    run(ctx, args) {
      const h = hashAt(ctx, args[0]!);
      const fields = fieldsAt(args, 1);
      if (!h) return fields.map(() => -2);
      return fields.map((f) => {
        if (!h.has(f)) return -2;
        if (ctx.db.fieldExpireAt(h, f) === null) return -1;
        ctx.db.setFieldExpireAt(h, f, null);
        return 1;
      });
    },
  },
  hgetdel: {
    arity: -5,
    run(ctx, args) {
      const key = args[0]!;
      const h = hashAt(ctx, key);
      const fields = fieldsAt(args, 1);
      if (!h) return fields.map(() => null);
      const out = fields.map((f) => {
        const v = h.get(f);
        if (v !== undefined) deleteField(ctx, h, f);
        return v ?? null;
      });
      ctx.db.dropIfEmpty(key);
      return out;
    },
  },
  hgetex: { arity: -5, run: hgetex },
  hsetex: { arity: -6, run: hsetex },
};

/** Commands newer than Redis 7.0, with the version that added them (backend.ts uses this to
 * answer a clear error when REDIS_URL points at an older server). */
export const HASH_FIELD_EXPIRY_SINCE: Record<string, string> = {
  hexpire: "7.4",
  hpexpire: "7.4",
  hexpireat: "7.4",
  hpexpireat: "7.4",
  httl: "7.4",
  hpttl: "7.4",
  hexpiretime: "7.4",
  hpexpiretime: "7.4",
  hpersist: "7.4",
  hgetdel: "8.0",
  hgetex: "8.0",
  hsetex: "8.0",
};
