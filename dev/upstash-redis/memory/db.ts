/**
 * The embedded store's keyspace: typed values, expiry (lazy on access plus a periodic sweep, as
 * Redis does), and the argument parsing and error strings every command family shares. Error
 * messages are Redis 7.0's, byte for byte, because clients and tests match on them.
 */
import { RedisError } from "../reply";
import type { Stream } from "./streams";

export type Value =
  | { type: "string"; v: string }
  | { type: "hash"; v: Map<string, string> }
  | { type: "set"; v: Set<string> }
  | { type: "zset"; v: Map<string, number> }
  | { type: "list"; v: string[] }
  | { type: "stream"; v: Stream };

export type TypeName = Value["type"];

/** The JS representation of each Redis type. */
export interface ValueOf {
  string: string;
  hash: Map<string, string>;
  set: Set<string>;
  zset: Map<string, number>;
  list: string[];
  stream: Stream;
}

type Entry = { value: Value; expireAt: number | null };

export const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
export const NOT_INTEGER = "ERR value is not an integer or out of range";
export const NOT_FLOAT = "ERR value is not a valid float";
export const SYNTAX = "ERR syntax error";

export function err(message: string): RedisError {
  return new RedisError(message);
}

const INT_RE = /^-?(0|[1-9][0-9]*)$/;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Redis' string2ll: strict decimal, no spaces or '+', within int64. */
export function parseBigInt(s: string): bigint | null {
  if (s.length > 20 || !INT_RE.test(s)) return null;
  const n = BigInt(s);
  return n > INT64_MAX || n < INT64_MIN ? null : n;
}

export function inInt64(n: bigint): boolean {
  return n <= INT64_MAX && n >= INT64_MIN;
}

export function parseInt64(s: string, message = NOT_INTEGER): number {
  const n = parseBigInt(s);
  if (n === null) throw err(message);
  return Number(n);
}

/** Redis' string2d: accepts what strtod accepts (incl. inf), rejects NaN, spaces and junk. */
export function parseFloatArg(s: string, message = NOT_FLOAT): number {
  const t = s.toLowerCase();
  if (t === "inf" || t === "+inf" || t === "infinity" || t === "+infinity") return Number.POSITIVE_INFINITY;
  if (t === "-inf" || t === "-infinity") return Number.NEGATIVE_INFINITY;
  if (s === "" || /\s/.test(s) || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) throw err(message);
  return Number(s);
}

/** Clamps Redis' inclusive, possibly negative, [start, stop] indexes (LRANGE, LTRIM, ZRANGE,
 * ZREMRANGEBYRANK) to array slice bounds. */
export function sliceBounds(len: number, start: number, stop: number): [number, number] {
  let s = start < 0 ? len + start : start;
  let e = stop < 0 ? len + stop : stop;
  if (s < 0) s = 0;
  if (e >= len) e = len - 1;
  return s > e || s >= len ? [0, 0] : [s, e + 1];
}

/** C's printf("%.17g"), which Redis 7.0 uses for sorted-set scores. */
export function formatScore(d: number): string {
  if (d === Number.POSITIVE_INFINITY) return "inf";
  if (d === Number.NEGATIVE_INFINITY) return "-inf";
  if (d === 0) return Object.is(d, -0) ? "-0" : "0";
  const [mant, expStr] = d.toExponential(16).split("e") as [string, string];
  const exp = Number(expStr);
  const strip = (x: string) => (x.includes(".") ? x.replace(/0+$/, "").replace(/\.$/, "") : x);
  if (exp < -4 || exp >= 17) {
    const e = Math.abs(exp);
    return `${strip(mant)}e${exp < 0 ? "-" : "+"}${e < 10 ? `0${e}` : e}`;
  }
  return strip(d.toFixed(16 - exp));
}

/** INCRBYFLOAT/HINCRBYFLOAT print without exponent and trailing zeros (Redis' "%.17Lf" + trim). */
export function formatIncrFloat(d: number): string {
  const s = String(d);
  if (!s.includes("e")) return s;
  if (Math.abs(d) >= 1) return BigInt(Math.trunc(d)).toString();
  return d.toFixed(20).replace(/0+$/, "").replace(/\.$/, "");
}

/** Largest absolute expiry (ms) Redis 7.4+ accepts for a hash field: EB_EXPIRE_TIME_MAX. */
export const HFE_MAX_ABS_TIME_MSEC = 2 ** 48 - 1;

export class Db {
  private readonly data = new Map<string, Entry>();
  private sweepAt: IterableIterator<[string, Entry]> | undefined;
  /** Hash-field expiry (Redis 7.4+): per hash object, field → absolute ms. Keyed by the hash's
   * Map itself, so RENAME keeps the TTLs and anything replacing the value drops them. */
  private readonly fieldExpiry = new WeakMap<Map<string, string>, Map<string, number>>();

  constructor(readonly now: () => number = Date.now) {}

  private entry(key: string): Entry | undefined {
    const e = this.data.get(key);
    if (!e) return undefined;
    if (e.expireAt !== null && e.expireAt <= this.now()) {
      this.data.delete(key);
      return undefined;
    }
    if (e.value.type === "hash" && !this.purgeFields(key, e.value.v)) return undefined;
    return e;
  }

  /** Lazy hash-field expiry: drops the hash's expired fields; a hash left empty is deleted (false). */
  private purgeFields(key: string, h: Map<string, string>): boolean {
    const ttls = this.fieldExpiry.get(h);
    if (!ttls) return true;
    const now = this.now();
    for (const [f, at] of ttls) {
      if (at <= now) {
        h.delete(f);
        ttls.delete(f);
      }
    }
    if (ttls.size === 0) this.fieldExpiry.delete(h);
    if (h.size === 0) {
      this.data.delete(key);
      return false;
    }
    return true;
  }

  /** A hash field's absolute expiry in ms, or null (none). */
  fieldExpireAt(h: Map<string, string>, field: string): number | null {
    return this.fieldExpiry.get(h)?.get(field) ?? null;
  }

  /** Sets (ms epoch) or clears (null) a hash field's expiry. The caller ensures the field exists. */
  setFieldExpireAt(h: Map<string, string>, field: string, at: number | null): void {
    let ttls = this.fieldExpiry.get(h);
    if (at === null) {
      ttls?.delete(field);
      if (ttls?.size === 0) this.fieldExpiry.delete(h);
      return;
    }
    if (!ttls) {
      ttls = new Map();
      this.fieldExpiry.set(h, ttls);
    }
    ttls.set(field, at);
  }

  /** Whether any field of the hash has an expiry (OBJECT ENCODING, COPY). */
  fieldExpiries(h: Map<string, string>): ReadonlyMap<string, number> | undefined {
    return this.fieldExpiry.get(h);
  }

  exists(key: string): boolean {
    return this.entry(key) !== undefined;
  }

  /** The value at key if it has the given type; WRONGTYPE otherwise; undefined if absent. */
  get<T extends TypeName>(key: string, type: T): ValueOf[T] | undefined {
    const e = this.entry(key);
    if (!e) return undefined;
    if (e.value.type !== type) throw err(WRONGTYPE);
    return e.value.v as ValueOf[T];
  }

  /** Gets the container at key, creating an empty one (no expiry) when absent. */
  getOrCreate<T extends Exclude<TypeName, "string" | "stream">>(key: string, type: T): ValueOf[T] {
    const found = this.get(key, type);
    if (found !== undefined) return found;
    const fresh = (type === "hash" || type === "zset" ? new Map() : type === "set" ? new Set() : []) as never;
    this.data.set(key, { value: { type, v: fresh } as Value, expireAt: null });
    return fresh;
  }

  typeOf(key: string): TypeName | undefined {
    return this.entry(key)?.value.type;
  }

  /** Writes a string, dropping any TTL unless keepTtl (as SET does). */
  setString(key: string, v: string, keepTtl = false): void {
    const old = keepTtl ? this.entry(key) : undefined;
    this.data.set(key, { value: { type: "string", v }, expireAt: old?.expireAt ?? null });
  }

  /** Stores any value under key (no expiry), replacing what was there. */
  put(key: string, value: Value): void {
    this.data.set(key, { value, expireAt: null });
  }

  /** The raw value at key, whatever its type (COPY, OBJECT). */
  raw(key: string): Value | undefined {
    return this.entry(key)?.value;
  }

  /** Rewrites a string in place, keeping its TTL (INCR, APPEND). */
  updateString(key: string, v: string): void {
    const e = this.entry(key);
    if (e) e.value = { type: "string", v };
    else this.data.set(key, { value: { type: "string", v }, expireAt: null });
  }

  delete(key: string): boolean {
    const had = this.exists(key);
    this.data.delete(key);
    return had;
  }

  /** Removes an emptied container, as Redis never keeps empty aggregates. */
  dropIfEmpty(key: string): void {
    const e = this.data.get(key);
    if (!e) return;
    const v = e.value.v;
    if (e.value.type === "stream") return; // streams may be empty
    const size = typeof v === "string" ? 1 : Array.isArray(v) ? v.length : (v as Map<string, string>).size;
    if (size === 0) this.data.delete(key);
  }

  /** ms epoch, or null (no TTL); undefined when the key is absent. */
  expireAt(key: string): number | null | undefined {
    const e = this.entry(key);
    return e ? e.expireAt : undefined;
  }

  setExpireAt(key: string, at: number | null): boolean {
    const e = this.entry(key);
    if (!e) return false;
    if (at !== null && at <= this.now()) this.data.delete(key);
    else e.expireAt = at;
    return true;
  }

  rename(from: string, to: string): void {
    const e = this.entry(from);
    if (!e) throw err("ERR no such key");
    this.data.delete(from);
    this.data.set(to, e);
  }

  keys(): string[] {
    const out: string[] = [];
    for (const k of [...this.data.keys()]) if (this.exists(k)) out.push(k);
    return out;
  }

  size(): number {
    return this.keys().length;
  }

  flush(): void {
    this.data.clear();
  }

  /** Active expiry: drops expired keys among the next `limit` entries so memory does not grow
   * with dead keys; returns how many it dropped. The position carries over between calls (a Map
   * iterator stays valid across inserts and deletes), so every key is examined in turn, not only
   * the oldest `limit` ones. */
  sweep(limit = 1000): number {
    const now = this.now();
    let dropped = 0;
    for (let seen = 0; seen < limit; seen++) {
      this.sweepAt ??= this.data.entries();
      const next = this.sweepAt.next();
      if (next.done) {
        // One full pass done; start the next one on the following call.
        this.sweepAt = undefined;
        break;
      }
      const [k, e] = next.value;
      if (e.expireAt !== null && e.expireAt <= now) {
        this.data.delete(k);
        dropped++;
      } else if (e.value.type === "hash" && !this.purgeFields(k, e.value.v)) dropped++;
    }
    return dropped;
  }
}

/** Redis glob matching (KEYS, SCAN MATCH): * ? [abc] [^a] [a-z] and \ escapes. */
export function globMatch(pattern: string, s: string): boolean {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*") re += "[\\s\\S]*";
    else if (c === "?") re += "[\\s\\S]";
    else if (c === "\\" && i + 1 < pattern.length) re += escapeRe(pattern[++i] as string);
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 1);
      if (close < 0) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const neg = body.startsWith("^");
      if (neg) body = body.slice(1);
      re += `[${neg ? "^" : ""}${body.replace(/[\]\\]/g, "\\$&")}]`;
      i = close;
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`).test(s);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
