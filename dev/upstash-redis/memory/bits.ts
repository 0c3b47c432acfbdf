/** Bitmap commands (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD) and SETRANGE of the embedded
 * store. Values are byte strings (one latin1 char per byte); bit 0 is the most significant bit of
 * byte 0, as in Redis. */
import { err, parseBigInt, parseInt64, SYNTAX } from "./db";
import type { CommandTable, Ctx } from "./types";

const BIT_OFFSET = "ERR bit offset is not an integer or out of range";
const MAX_BYTES = 512 * 1024 * 1024; // proto-max-bulk-len

/** A bit offset argument; with `hash`, "#N" means N * bits (BITFIELD). */
function bitOffset(s: string, hash = false, bits = 1): number {
  const useHash = hash && s.startsWith("#");
  const n = parseBigInt(useHash ? s.slice(1) : s);
  if (n === null || n < 0n) throw err(BIT_OFFSET);
  const off = useHash ? n * BigInt(bits) : n;
  if (off >> 3n >= BigInt(MAX_BYTES)) throw err(BIT_OFFSET);
  return Number(off);
}

function bytesOf(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, "latin1"));
}

function fromBytes(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("latin1");
}

/** The string at key as bytes, grown with zero bytes to hold `minBytes`. */
function grown(ctx: Ctx, key: string, minBytes: number): Uint8Array {
  const cur = bytesOf(ctx.db.get(key, "string") ?? "");
  if (cur.length >= minBytes) return cur;
  const out = new Uint8Array(minBytes);
  out.set(cur);
  return out;
}

const bitAt = (b: Uint8Array, i: number) => ((b[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;

function setBitAt(b: Uint8Array, i: number, on: number): void {
  const mask = 1 << (7 - (i & 7));
  b[i >> 3] = on ? b[i >> 3]! | mask : b[i >> 3]! & ~mask;
}

const POPCOUNT = Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let x = i; x; x >>= 1) n += x & 1;
  return n;
});

/** BITCOUNT/BITPOS range: start/end (bytes, or bits with BIT) → an inclusive bit range, or null
 * when empty. */
function bitRange(
  len: number,
  startArg: string,
  endArg: string | undefined,
  unitArg: string | undefined,
): { from: number; to: number } | null {
  let isBit = false;
  if (unitArg !== undefined) {
    const u = unitArg.toUpperCase();
    if (u === "BIT") isBit = true;
    else if (u !== "BYTE") throw err(SYNTAX);
  }
  let start = parseInt64(startArg);
  let end = endArg === undefined ? (isBit ? len * 8 + 7 : len - 1) : parseInt64(endArg);
  const total = isBit ? len * 8 : len;
  if (start < 0) start = total + start;
  if (end < 0) end = total + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= total) end = total - 1;
  if (start > end) return null;
  return isBit ? { from: start, to: end } : { from: start * 8, to: end * 8 + 7 };
}

type Field = { signed: boolean; bits: number };

function fieldType(s: string): Field {
  const signed = s[0] === "i" || s[0] === "I";
  const unsigned = s[0] === "u" || s[0] === "U";
  const bits = /^[0-9]+$/.test(s.slice(1)) ? Number(s.slice(1)) : Number.NaN;
  if ((!signed && !unsigned) || !(bits >= 1) || (signed && bits > 64) || (unsigned && bits > 63))
    throw err(
      "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
    );
  return { signed, bits };
}

function readField(b: Uint8Array, offset: number, f: Field): bigint {
  let v = 0n;
  for (let i = 0; i < f.bits; i++) v = (v << 1n) | BigInt(bitAt(b, offset + i));
  if (f.signed && f.bits > 0 && v >> BigInt(f.bits - 1) === 1n) v -= 1n << BigInt(f.bits);
  return v;
}

function writeField(b: Uint8Array, offset: number, bits: number, v: bigint): void {
  const u = BigInt.asUintN(bits, v);
  for (let i = 0; i < bits; i++) setBitAt(b, offset + i, Number((u >> BigInt(bits - 1 - i)) & 1n));
}

/** value + incr in the field's range under the overflow policy; null on FAIL overflow. */
function overflow(value: bigint, incr: bigint, f: Field, policy: string): bigint | null {
  const B = BigInt(f.bits);
  const max = f.signed ? (1n << (B - 1n)) - 1n : (1n << B) - 1n;
  const min = f.signed ? -(1n << (B - 1n)) : 0n;
  const sum = value + incr;
  if (sum >= min && sum <= max && value <= max) return sum;
  if (policy === "FAIL") return null;
  if (policy === "SAT") return value > max || sum > max ? max : min;
  return f.signed ? BigInt.asIntN(f.bits, sum) : BigInt.asUintN(f.bits, sum);
}

type FieldOp = { op: "GET" | "SET" | "INCRBY"; f: Field; offset: number; arg: bigint; policy: string };

function bitfield(ctx: Ctx, key: string, args: string[], readOnly: boolean) {
  const ops: FieldOp[] = [];
  let policy = "WRAP";
  for (let i = 0; i < args.length; i++) {
    const sub = args[i]!.toUpperCase();
    const rem = args.length - i - 1;
    if (sub === "GET" && rem >= 2) {
      const f = fieldType(args[i + 1]!);
      ops.push({ op: "GET", f, offset: bitOffset(args[i + 2]!, true, f.bits), arg: 0n, policy });
      i += 2;
    } else if ((sub === "SET" || sub === "INCRBY") && rem >= 3) {
      const f = fieldType(args[i + 1]!);
      const offset = bitOffset(args[i + 2]!, true, f.bits);
      const n = parseBigInt(args[i + 3]!);
      if (n === null) throw err("ERR value is not an integer or out of range");
      ops.push({ op: sub, f, offset, arg: n, policy });
      i += 3;
    } else if (sub === "OVERFLOW" && rem >= 1) {
      const p = args[i + 1]!.toUpperCase();
      if (p !== "WRAP" && p !== "SAT" && p !== "FAIL") throw err("ERR Invalid OVERFLOW type specified");
      policy = p;
      i += 1;
    } else throw err(SYNTAX);
  }
  const writes = ops.filter((o) => o.op !== "GET");
  if (readOnly && writes.length) throw err("ERR BITFIELD_RO only supports the GET subcommand");
  if (!writes.length) {
    const b = bytesOf(ctx.db.get(key, "string") ?? "");
    return ops.map((o) => Number(readField(b, o.offset, o.f)));
  }
  const highest = Math.max(...writes.map((o) => o.offset + o.f.bits - 1));
  const b = grown(ctx, key, (highest >> 3) + 1);
  const out = ops.map((o) => {
    const old = readField(b, o.offset, o.f);
    if (o.op === "GET") return Number(old);
    // SET checks the new value as a uint64/int64 with no increment; INCRBY adds to the old one.
    const base = o.op === "SET" ? (o.f.signed ? o.arg : BigInt.asUintN(64, o.arg)) : old;
    const next = overflow(base, o.op === "SET" ? 0n : o.arg, o.f, o.policy);
    if (next === null) return null;
    writeField(b, o.offset, o.f.bits, next);
    return Number(o.op === "SET" ? old : next);
  });
  ctx.db.updateString(key, fromBytes(b));
  return out;
}

export const bitCommands: CommandTable = {
  setbit: {
    arity: 4,
    run(ctx, [k, o, v]) {
      const offset = bitOffset(o!);
      if (v !== "0" && v !== "1") {
        const n = parseBigInt(v!);
        if (n === null || (n !== 0n && n !== 1n)) throw err("ERR bit is not an integer or out of range");
      }
      const b = grown(ctx, k!, (offset >> 3) + 1);
      const old = bitAt(b, offset);
      setBitAt(b, offset, Number(v));
      ctx.db.updateString(k!, fromBytes(b));
      return old;
    },
  },
  getbit: {
    arity: 3,
    run(ctx, [k, o]) {
      const offset = bitOffset(o!);
      const s = ctx.db.get(k!, "string") ?? "";
      const byte = offset >> 3;
      return byte < s.length ? (s.charCodeAt(byte) >> (7 - (offset & 7))) & 1 : 0;
    },
  },
  bitcount: {
    arity: -2,
    run(ctx, [k, ...opts]) {
      const s = ctx.db.get(k!, "string");
      if (s === undefined) return 0;
      if (opts.length !== 0 && opts.length !== 2 && opts.length !== 3) throw err(SYNTAX);
      const r = opts.length
        ? bitRange(s.length, opts[0]!, opts[1], opts[2])
        : bitRange(s.length, "0", "-1", undefined);
      if (!r) return 0;
      const b = bytesOf(s);
      let n = 0;
      let i = r.from;
      for (; i <= r.to && i & 7; i++) n += bitAt(b, i);
      for (; i + 7 <= r.to; i += 8) n += POPCOUNT[b[i >> 3]!]!;
      for (; i <= r.to; i++) n += bitAt(b, i);
      return n;
    },
  },
  bitpos: {
    arity: -3,
    run(ctx, [k, bitArg, ...opts]) {
      const bit = parseInt64(bitArg!);
      if (bit !== 0 && bit !== 1) throw err("ERR The bit argument must be 1 or 0.");
      const s = ctx.db.get(k!, "string");
      if (s === undefined) return bit ? -1 : 0;
      if (opts.length > 3) throw err(SYNTAX);
      const endGiven = opts.length >= 2;
      const r = opts.length
        ? bitRange(s.length, opts[0]!, opts[1], opts[2])
        : bitRange(s.length, "0", "-1", undefined);
      if (!r) return -1;
      const b = bytesOf(s);
      for (let i = r.from; i <= r.to; i++) if (bitAt(b, i) === bit) return i;
      // Looking for a clear bit without an explicit end: the string is as if zero-padded.
      return bit === 0 && !endGiven ? r.to + 1 : -1;
    },
  },
  bitop: {
    arity: -4,
    run(ctx, [opArg, dest, ...keys]) {
      const op = opArg!.toUpperCase();
      if (!["AND", "OR", "XOR", "NOT"].includes(op)) throw err(SYNTAX);
      if (op === "NOT" && keys.length !== 1)
        throw err("ERR BITOP NOT must be called with a single source key.");
      const srcs = keys.map((key) => bytesOf(ctx.db.get(key, "string") ?? ""));
      const len = Math.max(0, ...srcs.map((s) => s.length));
      const out = new Uint8Array(len);
      for (let i = 0; i < len; i++) {
        let v = srcs[0]![i] ?? 0;
        if (op === "NOT") v = ~v & 0xff;
        for (const s of srcs.slice(1)) {
          const x = s[i] ?? 0;
          v = op === "AND" ? v & x : op === "OR" ? v | x : v ^ x;
        }
        out[i] = v;
      }
      if (len) ctx.db.setString(dest!, fromBytes(out));
      else ctx.db.delete(dest!);
      return len;
    },
  },
  bitfield: { arity: -2, run: (ctx, [k, ...args]) => bitfield(ctx, k!, args, false) },
  bitfield_ro: { arity: -2, run: (ctx, [k, ...args]) => bitfield(ctx, k!, args, true) },
  setrange: {
    arity: 4,
    run(ctx, [k, o, v]) {
      const offset = parseInt64(o!);
      if (offset < 0) throw err("ERR offset is out of range");
      const cur = ctx.db.get(k!, "string");
      if (v === "") return cur?.length ?? 0;
      if (offset + v!.length > MAX_BYTES)
        throw err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
      const base = cur ?? "";
      const padded = base.length < offset ? base + "\0".repeat(offset - base.length) : base;
      const next = padded.slice(0, offset) + v! + padded.slice(offset + v!.length);
      ctx.db.updateString(k!, next);
      return next.length;
    },
  },
};
