/**
 * HyperLogLog (PFADD PFCOUNT PFMERGE) of the embedded store: Redis' own algorithm — MurmurHash64A
 * with seed 0xadc83b19, 16384 6-bit registers, and Redis 7's cardinality estimator (Ertl's
 * improved raw estimator) — so counts and PFADD's "changed" answers are Redis'. Values are stored
 * as a Redis string in the dense "HYLL" encoding (Redis itself starts small HLLs in the sparse
 * encoding, so GET on such a key returns different bytes than Redis would).
 */
import { Status } from "../reply";
import { err } from "./db";
import type { CommandTable, Ctx } from "./types";

const P = 14;
const REGISTERS = 1 << P;
const Q = 64 - P;
const HEADER = 16;
const DENSE_SIZE = HEADER + Math.floor((REGISTERS * 6 + 7) / 8);
const M = 0xc6a4a7935bd1e995n;
const MASK64 = (1n << 64n) - 1n;
const INVALID = "WRONGTYPE Key is not a valid HyperLogLog string value.";

function murmur64a(data: Buffer, seed: bigint): bigint {
  const len = data.length;
  let h = (seed ^ ((BigInt(len) * M) & MASK64)) & MASK64;
  const end = len - (len & 7);
  for (let i = 0; i < end; i += 8) {
    let k = data.readBigUInt64LE(i);
    k = (k * M) & MASK64;
    k ^= k >> 47n;
    k = (k * M) & MASK64;
    h ^= k;
    h = (h * M) & MASK64;
  }
  const rest = len & 7;
  if (rest) {
    for (let j = rest - 1; j >= 0; j--) h ^= BigInt(data[end + j]!) << BigInt(8 * j);
    h = (h * M) & MASK64;
  }
  h ^= h >> 47n;
  h = (h * M) & MASK64;
  h ^= h >> 47n;
  return h;
}

/** Register index and run length of an element (hllPatLen). */
function patLen(element: string): [number, number] {
  let hash = murmur64a(Buffer.from(element, "latin1"), 0xadc83b19n);
  const index = Number(hash & BigInt(REGISTERS - 1));
  hash >>= BigInt(P);
  hash |= 1n << BigInt(Q);
  let count = 1;
  while ((hash & 1n) === 0n) {
    count++;
    hash >>= 1n;
  }
  return [index, count];
}

/** The registers of the HLL at key; undefined when absent; WRONGTYPE when not an HLL (the db's
 * type check covers non-strings, the header check strings that are not HLLs). */
function load(ctx: Ctx, key: string): Uint8Array | undefined {
  const s = ctx.db.get(key, "string");
  if (s === undefined) return undefined;
  if (s.length !== DENSE_SIZE || !s.startsWith("HYLL") || s.charCodeAt(4) !== 0) throw err(INVALID);
  const regs = new Uint8Array(REGISTERS);
  for (let r = 0; r < REGISTERS; r++) {
    const byte = HEADER + ((r * 6) >> 3);
    const fb = (r * 6) & 7;
    const b0 = s.charCodeAt(byte);
    const b1 = byte + 1 < s.length ? s.charCodeAt(byte + 1) : 0;
    regs[r] = ((b0 >> fb) | (b1 << (8 - fb))) & 63;
  }
  return regs;
}

/** Writes the registers back; an existing key keeps its TTL, as Redis modifies it in place. */
function store(ctx: Ctx, key: string, regs: Uint8Array): void {
  const out = Buffer.alloc(DENSE_SIZE);
  out.write("HYLL", 0, "latin1");
  out[15] = 0x80; // cached cardinality marked invalid
  for (let r = 0; r < REGISTERS; r++) {
    const v = regs[r]!;
    const byte = HEADER + ((r * 6) >> 3);
    const fb = (r * 6) & 7;
    out[byte] = (out[byte]! & ~(63 << fb)) | ((v << fb) & 0xff);
    if (fb > 2) out[byte + 1] = (out[byte + 1]! & ~(63 >> (8 - fb))) | (v >> (8 - fb));
  }
  ctx.db.updateString(key, out.toString("latin1"));
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let zPrime: number;
  let y = 1;
  let z = x;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let zPrime: number;
  let y = 1.0;
  let z = 1 - x;
  do {
    x = Math.sqrt(x);
    zPrime = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
  } while (zPrime !== z);
  return z / 3;
}

function count(regs: Uint8Array): number {
  const m = REGISTERS;
  const histo = new Array<number>(64).fill(0);
  for (const r of regs) histo[r]!++;
  let z = m * tau((m - histo[Q + 1]!) / m);
  for (let j = Q; j >= 1; --j) {
    z += histo[j]!;
    z *= 0.5;
  }
  z += m * sigma(histo[0]! / m);
  return Math.round((0.7213475204444817 * m * m) / z);
}

/** The union (register-wise max) of the HLLs at keys; absent keys count as empty. */
function merged(ctx: Ctx, keys: string[]): Uint8Array {
  const out = new Uint8Array(REGISTERS);
  for (const k of keys) {
    const regs = load(ctx, k);
    if (regs) for (let i = 0; i < REGISTERS; i++) out[i] = Math.max(out[i]!, regs[i]!);
  }
  return out;
}

export const hllCommands: CommandTable = {
  pfadd: {
    arity: -2,
    run(ctx, [k, ...elements]) {
      const existing = load(ctx, k!);
      const regs = existing ?? new Uint8Array(REGISTERS);
      let changed = existing ? 0 : 1;
      for (const e of elements) {
        const [i, c] = patLen(e);
        if (c > regs[i]!) {
          regs[i] = c;
          changed = 1;
        }
      }
      if (changed) store(ctx, k!, regs);
      return changed;
    },
  },
  pfcount: {
    arity: -2,
    run: (ctx, keys) => count(merged(ctx, keys)),
  },
  pfmerge: {
    arity: -2,
    run(ctx, keys) {
      // The destination is one of the inputs: PFMERGE unions into what it already holds.
      store(ctx, keys[0]!, merged(ctx, keys));
      return new Status("OK");
    },
  },
};
