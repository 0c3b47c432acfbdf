/**
 * Scripting for the embedded store, without a Lua VM (none is installed and none may be added).
 *
 * Choice (b) of the brief: a script is recognised by the SHA1 of its text, and a TypeScript
 * transcription of it runs instead, through the same command table, as one atomic step. The known
 * scripts are exactly those @upstash/ratelimit 2.x sends (single- and multi-region fixed window,
 * sliding window, token bucket, cached fixed window, reset, deny list). Each transcription keeps
 * Lua's semantics where they show: nil replies become `false`, numeric strings coerce in
 * arithmetic, numbers returned to Redis are truncated to integers, `false` in a returned table is
 * a nil reply, `true` is 1. A script the store does not know fails with an ERR naming its SHA1
 * (EVALSHA of a never-loaded SHA answers NOSCRIPT, as Redis does). A real redis-server backend
 * runs any script.
 *
 * The SHA1s below are the ones @upstash/ratelimit itself ships (it calls EVALSHA with them first);
 * a conformance test recomputes them from the installed package so an upgrade that changes a
 * script fails loudly instead of silently diverging.
 */
import { createHash } from "node:crypto";
import type { Reply } from "../reply";

type Call = (...args: string[]) => Reply;
type Script = (call: Call, keys: string[], argv: string[]) => Reply;

export function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** Lua's tostring for a number (what redis.call sends for a number argument): "%.14g". */
function luaStr(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  return String(Number(n.toPrecision(14)));
}

/** Lua's tonumber on a reply; `false` (nil) stays nil-like. */
function num(v: Reply | boolean): number {
  return Number(v as string);
}

/** A reply as Lua sees it: nil bulk → false. */
function lua(v: Reply): Reply | false {
  return v === null ? false : v;
}

function effectiveLimit(call: Call, dynamicKey: string | undefined, fallback: number): number {
  if (dynamicKey !== undefined && dynamicKey !== "") {
    const v = lua(call("GET", dynamicKey));
    if (v !== false) return num(v);
  }
  return fallback;
}

/** Lua number → Redis integer reply (C cast: truncation). */
const int = (n: number): number => Math.trunc(n);

function sumValues(fields: Reply): number {
  const list = fields as Reply[];
  let total = 0;
  for (let i = 1; i < list.length; i += 2) total += num(list[i]!);
  return total;
}

const fixedWindowLimit: Script = (call, [key, dyn], [tokens, window, incrementBy]) => {
  const eff = effectiveLimit(call, dyn, num(tokens!));
  const r = call("INCRBY", key!, incrementBy!) as number;
  if (r === num(incrementBy!)) call("PEXPIRE", key!, window!);
  return [int(r), int(eff)];
};

const fixedWindowRemaining: Script = (call, [key, dyn], [tokens]) => {
  const eff = effectiveLimit(call, dyn, num(tokens!));
  const value = lua(call("GET", key!));
  const used = value === false ? 0 : num(value);
  return [int(eff - used), int(eff)];
};

function slidingCounts(call: Call, cur: string, prev: string, now: string, window: string) {
  const c = lua(call("GET", cur));
  const p = lua(call("GET", prev));
  const current = c === false ? 0 : num(c);
  const pct = (num(now) % num(window)) / num(window);
  const previous = Math.floor((1 - pct) * (p === false ? 0 : num(p)));
  return { current, previous };
}

const slidingWindowLimit: Script = (call, [cur, prev, dyn], [tokens, now, window, incrementBy]) => {
  const eff = effectiveLimit(call, dyn, num(tokens!));
  const inc = num(incrementBy!);
  const { current, previous } = slidingCounts(call, cur!, prev!, now!, window!);
  if (inc > 0 && previous + current >= eff) return [-1, int(eff)];
  const newValue = call("INCRBY", cur!, luaStr(inc)) as number;
  if (newValue === inc) call("PEXPIRE", cur!, luaStr(num(window!) * 2 + 1000));
  return [int(eff - (newValue + previous)), int(eff)];
};

const slidingWindowRemaining: Script = (call, [cur, prev, dyn], [tokens, now, window]) => {
  const eff = effectiveLimit(call, dyn, num(tokens!));
  const { current, previous } = slidingCounts(call, cur!, prev!, now!, window!);
  return [int(eff - (previous + current)), int(eff)];
};

const tokenBucketLimit: Script = (call, [key, dyn], argv) => {
  const [maxTokens, interval, refillRate, now, inc] = argv.map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const eff = effectiveLimit(call, dyn, maxTokens);
  const bucket = (call("HMGET", key!, "refilledAt", "tokens") as Reply[]).map(lua);
  let refilledAt: number;
  let tokens: number;
  if (bucket[0] === false) {
    refilledAt = now;
    tokens = eff;
  } else {
    refilledAt = num(bucket[0]!);
    tokens = num(bucket[1]!);
  }
  if (now >= refilledAt + interval) {
    const refills = Math.floor((now - refilledAt) / interval);
    tokens = Math.min(eff, tokens + refills * refillRate);
    refilledAt += refills * interval;
  }
  if (inc > 0 && tokens < inc) return [-1, int(refilledAt + interval), int(eff)];
  const remaining = tokens - inc;
  const expireAt = Math.ceil((eff - remaining) / refillRate) * interval;
  call("HSET", key!, "refilledAt", luaStr(refilledAt), "tokens", luaStr(remaining));
  if (expireAt > 0) call("PEXPIRE", key!, luaStr(expireAt));
  return [int(remaining), int(refilledAt + interval), int(eff)];
};

const tokenBucketRemaining: Script = (call, [key, dyn], [maxTokens]) => {
  const eff = effectiveLimit(call, dyn, num(maxTokens!));
  const bucket = (call("HMGET", key!, "refilledAt", "tokens") as Reply[]).map(lua);
  if (bucket[0] === false) return [int(eff), -1, int(eff)];
  return [int(num(bucket[1]!)), int(num(bucket[0]!)), int(eff)];
};

const cachedFixedWindowLimit: Script = (call, [key], [, incrementBy]) => {
  // The Lua compares the INCRBY integer with the ARGV *string* (`r == incrementBy`), which is never
  // true in Lua, so real Redis never sets the expiry here; we do the same.
  return call("INCRBY", key!, incrementBy!);
};

const cachedFixedWindowRemaining: Script = (call, [key]) => {
  const value = lua(call("GET", key!));
  return value === false ? 0 : value;
};

const multiFixedWindowLimit: Script = (call, [key], [id, window, incrementBy]) => {
  const inc = num(incrementBy!);
  call("HSET", key!, id!, luaStr(inc));
  const fields = call("HGETALL", key!) as Reply[];
  if (fields.length === 2 && num(fields[1]!) === inc) call("PEXPIRE", key!, window!);
  return fields;
};

const multiFixedWindowRemaining: Script = (call, [key]) => call("HGETALL", key!);

const multiSlidingWindowLimit: Script = (
  call,
  [cur, prev],
  [tokens, now, window, requestId, incrementBy],
) => {
  const inc = num(incrementBy!);
  const currentFields = call("HGETALL", cur!);
  const previousFields = call("HGETALL", prev!);
  const current = sumValues(currentFields);
  const previous = sumValues(previousFields);
  const pct = (num(now!) % num(window!)) / num(window!);
  if (inc > 0 && previous * (1 - pct) + current + inc > num(tokens!))
    return [currentFields, previousFields, null];
  call("HSET", cur!, requestId!, luaStr(inc));
  if (current === 0) call("PEXPIRE", cur!, luaStr(num(window!) * 2 + 1000));
  return [currentFields, previousFields, 1];
};

const multiSlidingWindowRemaining: Script = (call, [cur, prev], [now, window]) => {
  const current = sumValues(call("HGETALL", cur!));
  const previous = sumValues(call("HGETALL", prev!));
  const pct = (num(now!) % num(window!)) / num(window!);
  return int(current + Math.floor((1 - pct) * previous));
};

const resetKeys: Script = (call, [pattern]) => {
  let cursor = "0";
  do {
    const [next, keys] = call("SCAN", cursor, "MATCH", pattern!) as [string, string[]];
    cursor = String(next);
    for (const k of keys) call("DEL", k);
  } while (cursor !== "0");
  return null;
};

const checkDenyList: Script = (call, [allKey, statusKey], members) => {
  const results = call("SMISMEMBER", allKey!, ...members);
  const status = call("TTL", statusKey!) as number;
  if (status === -2) call("SETEX", statusKey!, "30", "pending");
  return [results, status];
};

/** SHA1 of each @upstash/ratelimit 2.x script → its transcription. */
export const KNOWN_SCRIPTS: Record<string, Script> = {
  b2efc02798c8e9b471a10f9b1d5745db89923ff3: fixedWindowLimit,
  "823cb2a5a902d69681244f5e28e5ebb8f2a89edd": fixedWindowRemaining,
  "74740bb3d7792848093cdef586b6b6037c455fd6": slidingWindowLimit,
  "7ca36169e0fc9caedd81b4eef8e99854c157f9b5": slidingWindowRemaining,
  d60be5bd3d83482ae229309f1f7425424f891204: tokenBucketLimit,
  "40daf4a441df736f5c99f8b77bbe176c909e5de4": tokenBucketRemaining,
  "1861a700bafe96c833a483af6b1c28a8897cfdb0": cachedFixedWindowLimit,
  eb82f0e853d2fc9a236fa9bfbe704fda6ac2fc36: cachedFixedWindowRemaining,
  e04b753a75909b7f99aae4c04cf8869a8de02a9e: multiFixedWindowLimit,
  e066c8ce3eaca142b0894ad1541e0a58c9924819: multiFixedWindowRemaining,
  aeb4d8f381e8dafc8e69041baae1324d254ded44: multiSlidingWindowLimit,
  "87828c1088f6a8d1f512a434ea330189982a1c0a": multiSlidingWindowRemaining,
  "54bd274ddc59fb3be0f42deee2f64322a10e2b50": resetKeys,
  e8062088fe7e67994f617766e5d766490de1afb8: checkDenyList,
};
