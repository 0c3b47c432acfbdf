/** Keyspace and server commands of the embedded store. */
import { Status } from "../reply";
import { err, globMatch, parseInt64 } from "./db";
import { randomItem } from "./random";
import { parseScanArgs } from "./scan";

import type { CommandTable, Ctx } from "./types";

const OK = new Status("OK");

/** EXPIRE-family core, with Redis 7's NX/XX/GT/LT flags (a missing TTL counts as infinite). */
function expire(ctx: Ctx, key: string, at: number, flags: string[], command: string): number {
  const cur = ctx.db.expireAt(key);
  if (cur === undefined) return 0;
  const f = new Set(flags.map((x) => x.toUpperCase()));
  for (const x of f) if (!["NX", "XX", "GT", "LT"].includes(x)) throw err(`ERR Unsupported option ${x}`);
  if (f.has("NX") && (f.has("XX") || f.has("GT") || f.has("LT")))
    throw err("ERR NX and XX, GT or LT options at the same time are not compatible");
  if (f.has("GT") && f.has("LT")) throw err("ERR GT and LT options at the same time are not compatible");
  if (!Number.isFinite(at)) throw err(`ERR invalid expire time in '${command}' command`);
  if (f.has("NX") && cur !== null) return 0;
  if (f.has("XX") && cur === null) return 0;
  if (f.has("GT") && (cur === null || at <= cur)) return 0;
  if (f.has("LT") && cur !== null && at >= cur) return 0;
  ctx.db.setExpireAt(key, at);
  return 1;
}

function ttl(ctx: Ctx, key: string, unit: 1 | 1000): number {
  const at = ctx.db.expireAt(key);
  if (at === undefined) return -2;
  if (at === null) return -1;
  const ms = Math.max(0, at - ctx.db.now());
  return unit === 1 ? ms : Math.floor((ms + 500) / 1000);
}

export const keyCommands: CommandTable = {
  del: { arity: -2, run: (ctx, keys) => keys.filter((k) => ctx.db.delete(k)).length },
  exists: { arity: -2, run: (ctx, keys) => keys.filter((k) => ctx.db.exists(k)).length },
  expire: {
    arity: -3,
    run: (ctx, [k, s, ...f]) => expire(ctx, k!, ctx.db.now() + parseInt64(s!) * 1000, f, "expire"),
  },
  pexpire: {
    arity: -3,
    run: (ctx, [k, ms, ...f]) => expire(ctx, k!, ctx.db.now() + parseInt64(ms!), f, "pexpire"),
  },
  expireat: { arity: -3, run: (ctx, [k, s, ...f]) => expire(ctx, k!, parseInt64(s!) * 1000, f, "expireat") },
  pexpireat: { arity: -3, run: (ctx, [k, ms, ...f]) => expire(ctx, k!, parseInt64(ms!), f, "pexpireat") },
  ttl: { arity: 2, run: (ctx, [k]) => ttl(ctx, k!, 1000) },
  pttl: { arity: 2, run: (ctx, [k]) => ttl(ctx, k!, 1) },
  expiretime: {
    arity: 2,
    run(ctx, [k]) {
      const at = ctx.db.expireAt(k!);
      return at === undefined ? -2 : at === null ? -1 : Math.floor(at / 1000);
    },
  },
  persist: {
    arity: 2,
    run(ctx, [k]) {
      if (ctx.db.expireAt(k!) == null) return 0;
      ctx.db.setExpireAt(k!, null);
      return 1;
    },
  },
  type: { arity: 2, run: (ctx, [k]) => new Status(ctx.db.typeOf(k!) ?? "none") },
  keys: { arity: 2, run: (ctx, [p]) => ctx.db.keys().filter((k) => globMatch(p!, k)) },
  scan: {
    arity: -2,
    run(ctx, [cursorArg, ...opts]) {
      const { cursor, match, count, type } = parseScanArgs(cursorArg!, opts, true);
      // The cursor is a position in the sorted key list: stable enough for a local store, and
      // every key present for the whole scan is returned at least once.
      const all = ctx.db.keys().sort();
      const page = all.slice(cursor, cursor + count);
      const next = cursor + count >= all.length ? 0 : cursor + count;
      const keys = page.filter(
        (k) => (!match || globMatch(match, k)) && (!type || ctx.db.typeOf(k) === type),
      );
      return [String(next), keys];
    },
  },
  randomkey: { arity: 1, run: (ctx) => randomItem(ctx.db.keys()) ?? null },
  rename: {
    arity: 3,
    run(ctx, [a, b]) {
      ctx.db.rename(a!, b!);
      return OK;
    },
  },
  renamenx: {
    arity: 3,
    run(ctx, [a, b]) {
      if (!ctx.db.exists(a!)) throw err("ERR no such key");
      if (ctx.db.exists(b!)) return 0;
      ctx.db.rename(a!, b!);
      return 1;
    },
  },
  dbsize: { arity: 1, run: (ctx) => ctx.db.size() },
  flushdb: {
    arity: -1,
    run(ctx) {
      ctx.db.flush();
      return OK;
    },
  },
  ping: { arity: -1, run: (_ctx, [msg]) => (msg === undefined ? new Status("PONG") : msg) },
  echo: { arity: 2, run: (_ctx, [msg]) => msg! },
  time: {
    arity: 1,
    run(ctx) {
      const us = Math.floor(ctx.db.now() * 1000);
      return [String(Math.floor(us / 1e6)), String(us % 1e6)];
    },
  },
};
// Same behaviour under other names: one store has nothing to unlink lazily, no access times to
// touch, and one database to flush.
keyCommands.unlink = keyCommands.del!;
keyCommands.touch = keyCommands.exists!;
keyCommands.flushall = keyCommands.flushdb!;
