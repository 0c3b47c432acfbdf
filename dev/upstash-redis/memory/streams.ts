/**
 * Streams of the embedded store: XADD XRANGE XREVRANGE XLEN XDEL XTRIM XREAD (non-blocking),
 * XGROUP, XREADGROUP (non-blocking, NOACK), XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO. Redis 7.0 semantics and error
 * strings, including the entries-added / entries-read / lag bookkeeping. Approximate trimming
 * (`~`) removes whole nodes of 100 entries (Redis' default stream-node-max-entries, ignoring its
 * byte limit), and XINFO STREAM's radix-tree-keys/-nodes are estimates.
 */
import { type Reply, Status } from "../reply";
import { err, parseInt64, SYNTAX } from "./db";
import type { CommandTable, Ctx } from "./types";

type Id = [ms: bigint, seq: bigint];
const U64_MAX = (1n << 64n) - 1n;
const ZERO: Id = [0n, 0n];
const MAX_ID: Id = [U64_MAX, U64_MAX];
const NODE_ENTRIES = 100;
const OK = () => new Status("OK");
const INVALID_ID = "ERR Invalid stream ID specified as stream command argument";

const cmp = (a: Id, b: Id): number =>
  a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
const idStr = (id: Id) => `${id[0]}-${id[1]}`;
const isZero = (id: Id) => id[0] === 0n && id[1] === 0n;

type Entry = { id: Id; fields: string[]; node: number };
type Pending = { id: Id; consumer: string; time: number; count: number };
type Consumer = { name: string; seen: number; pel: Map<string, Pending> };
type Group = {
  lastId: Id;
  entriesRead: number; // -1: unknown
  pel: Map<string, Pending>;
  consumers: Map<string, Consumer>;
};

export class Stream {
  entries: Entry[] = [];
  lastId: Id = ZERO;
  maxDeleted: Id = ZERO;
  entriesAdded = 0;
  groups = new Map<string, Group>();
  private node = 0;
  private nodeFill = 0;

  get firstId(): Id {
    return this.entries[0]?.id ?? ZERO;
  }

  append(id: Id, fields: string[]): void {
    // A new node when the tail one is full or gone (trimmed, or all its entries deleted).
    const tail = this.entries[this.entries.length - 1];
    if (this.nodeFill >= NODE_ENTRIES || !tail || tail.node !== this.node) {
      this.node++;
      this.nodeFill = 0;
    }
    this.nodeFill++;
    this.entries.push({ id, fields, node: this.node });
    this.lastId = id;
    this.entriesAdded++;
  }

  indexAfter(id: Id, inclusive: boolean): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = cmp(this.entries[mid]!.id, id);
      if (c < 0 || (!inclusive && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  range(start: Id, end: Id, count: number, rev: boolean): Entry[] {
    const from = this.indexAfter(start, true);
    const out: Entry[] = [];
    if (!rev) {
      for (let i = from; i < this.entries.length && cmp(this.entries[i]!.id, end) <= 0; i++) {
        out.push(this.entries[i]!);
        if (count && out.length >= count) break;
      }
    } else {
      const to = this.indexAfter(end, false);
      for (let i = to - 1; i >= from; i--) {
        out.push(this.entries[i]!);
        if (count && out.length >= count) break;
      }
    }
    return out;
  }

  get(id: Id): Entry | undefined {
    const i = this.indexAfter(id, true);
    const e = this.entries[i];
    return e && cmp(e.id, id) === 0 ? e : undefined;
  }

  hasTombstones(start: Id | null): boolean {
    if (this.entries.length === 0 || isZero(this.maxDeleted)) return false;
    if (cmp(this.firstId, this.maxDeleted) > 0) return false;
    return cmp(start ?? ZERO, this.maxDeleted) <= 0;
  }

  /** streamEstimateDistanceFromFirstEverEntry; -1 when unknown. */
  estimate(id: Id): number {
    if (!this.entriesAdded) return 0;
    if (!this.entries.length && cmp(id, this.lastId) < 1) return this.entriesAdded;
    const last = cmp(id, this.lastId);
    if (last === 0) return this.entriesAdded;
    if (last > 0) return -1;
    const first = cmp(id, this.firstId);
    if (isZero(this.maxDeleted) || cmp(this.maxDeleted, this.firstId) < 0) {
      if (first < 0) return this.entriesAdded - this.entries.length;
      if (first === 0) return this.entriesAdded - this.entries.length + 1;
    }
    return -1;
  }

  lag(g: Group): Reply {
    if (!this.entriesAdded) return 0;
    if (g.entriesRead !== -1 && !this.hasTombstones(g.lastId)) return this.entriesAdded - g.entriesRead;
    const read = this.estimate(g.lastId);
    return read === -1 ? null : this.entriesAdded - read;
  }
}

function parseUll(s: string): bigint | null {
  if (!/^[0-9]+$/.test(s) || s.length > 20) return null;
  const n = BigInt(s);
  return n > U64_MAX ? null : n;
}

/** streamGenericParseIDOrReply. `seqStar`: "ms-*" allowed (XADD); returns seq null for it. */
function parseId(
  s: string,
  missingSeq: bigint,
  strict: boolean,
  seqStar = false,
): { id: Id; seqGiven: boolean } {
  if (s.length > 127) throw err(INVALID_ID);
  if (s === "-" || s === "+") {
    if (strict) throw err(INVALID_ID);
    return { id: s === "-" ? ZERO : MAX_ID, seqGiven: true };
  }
  const dash = s.indexOf("-");
  const ms = parseUll(dash < 0 ? s : s.slice(0, dash));
  if (ms === null) throw err(INVALID_ID);
  if (dash < 0) return { id: [ms, missingSeq], seqGiven: true };
  const rest = s.slice(dash + 1);
  if (seqStar && rest === "*") return { id: [ms, 0n], seqGiven: false };
  const seq = parseUll(rest);
  if (seq === null) throw err(INVALID_ID);
  return { id: [ms, seq], seqGiven: true };
}

const strictId = (s: string) => parseId(s, 0n, true).id;

function entryReply(e: Entry): Reply {
  return [idStr(e.id), [...e.fields]];
}

function getStream(ctx: Ctx, key: string): Stream | undefined {
  return ctx.db.get(key, "stream");
}

function createStream(ctx: Ctx, key: string): Stream {
  const s = new Stream();
  ctx.db.put(key, { type: "stream", v: s });
  return s;
}

type Trim = { strategy: "maxlen" | "minid"; approx: boolean; maxlen: number; minid: Id; limit: number };

/** streamParseAddOrTrimArgsOrReply: options up to the ID (XADD) or the end (XTRIM). */
function parseTrimArgs(args: string[], xadd: boolean) {
  let trim: Trim | null = null;
  let limit = 0;
  let limitGiven = false;
  let noMk = false;
  let id: { id: Id; seqGiven: boolean } | null = null;
  let i = 0;
  for (; i < args.length; i++) {
    const more = args.length - 1 - i;
    const opt = args[i]!;
    const o = opt.toLowerCase();
    if (xadd && opt === "*") break;
    if ((o === "maxlen" || o === "minid") && more) {
      if (trim) throw err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
      let approx = false;
      const next = args[i + 1];
      if (more >= 2 && next === "~") {
        approx = true;
        i++;
      } else if (more >= 2 && next === "=") i++;
      if (o === "maxlen") {
        const n = parseInt64(args[i + 1]!);
        if (n < 0) throw err("ERR The MAXLEN argument must be >= 0.");
        trim = { strategy: "maxlen", approx, maxlen: n, minid: ZERO, limit: 0 };
      } else {
        trim = { strategy: "minid", approx, maxlen: 0, minid: strictId(args[i + 1]!), limit: 0 };
      }
      i++;
    } else if (o === "limit" && more) {
      limit = parseInt64(args[i + 1]!);
      if (limit < 0) throw err("ERR The LIMIT argument must be >= 0.");
      limitGiven = true;
      i++;
    } else if (xadd && o === "nomkstream") noMk = true;
    else if (xadd) {
      id = parseId(opt, 0n, true, true);
      break;
    } else throw err(SYNTAX);
  }
  if (limit && !trim)
    throw err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
  if (!xadd && !trim) throw err("ERR syntax error, XTRIM must be called with a trimming strategy");
  if (trim) {
    if (trim.approx) trim.limit = limitGiven ? limit : 100 * NODE_ENTRIES;
    else if (limitGiven) throw err("ERR syntax error, LIMIT cannot be used without the special ~ option");
  }
  return { trim, noMk, id, next: i + 1 };
}

function trimStream(s: Stream, t: Trim): number {
  const doomed = (e: Entry, remaining: number) =>
    t.strategy === "maxlen" ? remaining > t.maxlen : cmp(e.id, t.minid) < 0;
  let removed = 0;
  if (!t.approx) {
    while (s.entries.length && doomed(s.entries[0]!, s.entries.length)) {
      s.entries.shift();
      removed++;
    }
    return removed;
  }
  // Whole nodes only, and only while the node can go entirely.
  while (s.entries.length) {
    const node = s.entries[0]!.node;
    let n = 0;
    while (n < s.entries.length && s.entries[n]!.node === node) n++;
    const lastOfNode = s.entries[n - 1]!;
    const ok = t.strategy === "maxlen" ? s.entries.length - n >= t.maxlen : cmp(lastOfNode.id, t.minid) < 0;
    if (!ok || (t.limit && removed + n > t.limit)) break;
    s.entries.splice(0, n);
    removed += n;
  }
  return removed;
}

/** XRANGE bounds with the exclusive "(" form. */
function rangeBound(s: string, isStart: boolean): Id {
  if (s.startsWith("(") && s.length > 1) {
    const { id } = parseId(s.slice(1), isStart ? 0n : U64_MAX, true);
    if (isStart) {
      if (id[0] === U64_MAX && id[1] === U64_MAX) throw err("ERR invalid start ID for the interval");
      return id[1] === U64_MAX ? [id[0] + 1n, 0n] : [id[0], id[1] + 1n];
    }
    if (isZero(id)) throw err("ERR invalid end ID for the interval");
    return id[1] === 0n ? [id[0] - 1n, U64_MAX] : [id[0], id[1] - 1n];
  }
  return parseId(s, isStart ? 0n : U64_MAX, false).id;
}

function xrange(ctx: Ctx, key: string, a: string, b: string, opts: string[], rev: boolean): Reply {
  const start = rangeBound(rev ? b : a, true);
  const end = rangeBound(rev ? a : b, false);
  let count = -1;
  for (let j = 0; j < opts.length; j++) {
    if (opts[j]!.toUpperCase() === "COUNT" && j + 1 < opts.length) {
      count = parseInt64(opts[++j]!);
      if (count < 0) count = 0;
    } else throw err(SYNTAX);
  }
  const s = getStream(ctx, key);
  if (!s) return [];
  if (count === 0) return null;
  return s.range(start, end, count === -1 ? 0 : count, rev).map(entryReply);
}

/** Redis 7 subcommands are commands of their own: unknown ones and wrong arity fail up front. */
export function subcommandCheck(cmd: string, sub: string, arity: Record<string, number>, argc: number): void {
  const a = arity[sub.toUpperCase()];
  if (a === undefined)
    throw err(`ERR unknown subcommand '${sub.slice(0, 128)}'. Try ${cmd.toUpperCase()} HELP.`);
  if ((a > 0 && argc !== a) || (a < 0 && argc < -a))
    throw err(`ERR wrong number of arguments for '${cmd}|${sub.toLowerCase()}' command`);
}

function noGroup(key: string, group: string): never {
  throw err(`NOGROUP No such key '${key}' or consumer group '${group}'`);
}

function consumerOf(g: Group, name: string, now: number): Consumer {
  let c = g.consumers.get(name);
  if (!c) {
    c = { name, seen: now, pel: new Map() };
    g.consumers.set(name, c);
  }
  return c;
}

/** XREAD / XREADGROUP argument parsing (no BLOCK support: BLOCK is accepted, never waits). */
function parseRead(args: string[], group: boolean, cmdName: string) {
  let count = 0;
  let noAck = false;
  let streamsAt = -1;
  let groupName: string | undefined;
  let consumer: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const o = args[i]!.toUpperCase();
    const more = args.length - 1 - i;
    if (o === "BLOCK" && more) {
      const ms = parseInt64(args[++i]!, "ERR timeout is not an integer or out of range");
      if (ms < 0) throw err("ERR timeout is negative");
    } else if (o === "COUNT" && more) {
      count = parseInt64(args[++i]!);
      if (count < 0) count = 0;
    } else if (o === "STREAMS" && more) {
      streamsAt = i + 1;
      break;
    } else if (o === "GROUP" && more >= 2) {
      if (!group)
        throw err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
      groupName = args[i + 1];
      consumer = args[i + 2];
      i += 2;
    } else if (o === "NOACK") {
      if (!group)
        throw err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
      noAck = true;
    } else throw err(SYNTAX);
  }
  if (streamsAt < 0) throw err(SYNTAX);
  const rest = args.slice(streamsAt);
  if (rest.length % 2 !== 0)
    throw err(
      `ERR Unbalanced ${cmdName} list of streams: for each stream key an ID or '${group ? ">" : "$"}' must be specified.`,
    );
  if (group && groupName === undefined) throw err("ERR Missing GROUP option for XREADGROUP");
  const n = rest.length / 2;
  return { count, noAck, keys: rest.slice(0, n), ids: rest.slice(n), groupName, consumer };
}

export const streamCommands: CommandTable = {
  xadd: {
    arity: -5,
    run(ctx, [key, ...args]) {
      const p = parseTrimArgs(args, true);
      const fields = args.slice(p.next);
      if (fields.length < 2 || fields.length % 2 === 1)
        throw err("ERR wrong number of arguments for 'xadd' command");
      if (p.id?.seqGiven && isZero(p.id.id))
        throw err("ERR The ID specified in XADD must be greater than 0-0");
      let s = getStream(ctx, key!);
      if (!s) {
        if (p.noMk) return null;
        s = createStream(ctx, key!);
      }
      if (s.lastId[0] === U64_MAX && s.lastId[1] === U64_MAX)
        throw err("ERR The stream has exhausted the last possible ID, unable to add more items");
      let id: Id;
      const smaller = "ERR The ID specified in XADD is equal or smaller than the target stream top item";
      if (p.id) {
        if (!p.id.seqGiven) {
          if (s.lastId[0] === p.id.id[0]) {
            if (s.lastId[1] === U64_MAX) throw err(smaller);
            id = [s.lastId[0], s.lastId[1] + 1n];
          } else id = p.id.id;
        } else id = p.id.id;
      } else {
        const now = BigInt(ctx.db.now());
        id = now > s.lastId[0] ? [now, 0n] : [s.lastId[0], s.lastId[1] + 1n];
      }
      if (cmp(id, s.lastId) <= 0) throw err(smaller);
      s.append(id, fields);
      if (p.trim) trimStream(s, p.trim);
      return idStr(id);
    },
  },
  xtrim: {
    arity: -4,
    run(ctx, [key, ...args]) {
      const p = parseTrimArgs(args, false);
      const s = getStream(ctx, key!);
      if (!s) return 0;
      return trimStream(s, p.trim!);
    },
  },
  xlen: { arity: 2, run: (ctx, [k]) => getStream(ctx, k!)?.entries.length ?? 0 },
  xrange: { arity: -4, run: (ctx, [k, a, b, ...o]) => xrange(ctx, k!, a!, b!, o, false) },
  xrevrange: { arity: -4, run: (ctx, [k, a, b, ...o]) => xrange(ctx, k!, a!, b!, o, true) },
  xdel: {
    arity: -3,
    run(ctx, [key, ...ids]) {
      const parsed = ids.map(strictId);
      const s = getStream(ctx, key!);
      if (!s) return 0;
      let n = 0;
      for (const id of parsed) {
        const i = s.indexAfter(id, true);
        if (s.entries[i] && cmp(s.entries[i]!.id, id) === 0) {
          s.entries.splice(i, 1);
          n++;
          if (cmp(id, s.maxDeleted) > 0) s.maxDeleted = id;
        }
      }
      return n;
    },
  },
  xread: {
    arity: -4,
    run(ctx, args) {
      const r = parseRead(args, false, "XREAD");
      const out: Reply[] = [];
      // Every key and ID is checked before any stream is read.
      const reads = r.keys.map((k, i) => {
        const s = getStream(ctx, k);
        const id = r.ids[i]!;
        return { s, start: id === "$" ? (s ? s.lastId : ZERO) : parseId(id, 0n, true).id };
      });
      r.keys.forEach((k, i) => {
        const { s, start } = reads[i]!;
        if (!s) return;
        const from = s.indexAfter(start, false);
        const entries = s.entries.slice(from, r.count ? from + r.count : undefined);
        if (entries.length) out.push([k, entries.map(entryReply)]);
      });
      return out.length ? out : null;
    },
  },
  xreadgroup: {
    arity: -7,
    run(ctx, args) {
      const r = parseRead(args, true, "XREADGROUP");
      const now = ctx.db.now();
      const groups = r.keys.map((k, i) => {
        const s = getStream(ctx, k);
        const g = s?.groups.get(r.groupName!);
        if (!s || !g)
          throw err(
            `NOGROUP No such key '${k}' or consumer group '${r.groupName}' in XREADGROUP with GROUP option`,
          );
        const id = r.ids[i]!;
        if (id === "$")
          throw err(
            "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
          );
        return { s, g, start: id === ">" ? null : parseId(id, 0n, true).id };
      });
      const out: Reply[] = [];
      r.keys.forEach((k, i) => {
        const { s, g, start } = groups[i]!;
        // Redis creates/touches the consumer only for a stream it serves now.
        const last = s.entries[s.entries.length - 1];
        if (start === null && !(last && cmp(last.id, g.lastId) > 0)) return;
        const c = consumerOf(g, r.consumer!, now);
        c.seen = now;
        if (start === null) {
          const from = s.indexAfter(g.lastId, false);
          const entries = s.entries.slice(from, r.count ? from + r.count : undefined);
          for (const e of entries) {
            if (g.entriesRead !== -1 && !s.hasTombstones(e.id)) g.entriesRead++;
            else if (s.entriesAdded) g.entriesRead = s.estimate(e.id);
            g.lastId = e.id;
            if (!r.noAck) {
              const key = idStr(e.id);
              const old = g.pel.get(key);
              if (old) g.consumers.get(old.consumer)?.pel.delete(key);
              const p: Pending = { id: e.id, consumer: c.name, time: now, count: 1 };
              g.pel.set(key, p);
              c.pel.set(key, p);
            }
          }
          if (entries.length) out.push([k, entries.map(entryReply)]);
        } else {
          const pend = [...c.pel.values()]
            .filter((p) => cmp(p.id, start) > 0)
            .sort((a, b) => cmp(a.id, b.id));
          const picked = r.count ? pend.slice(0, r.count) : pend;
          out.push([
            k,
            picked.map((p) => {
              const e = s.get(p.id);
              return e ? entryReply(e) : [idStr(p.id), null];
            }),
          ]);
        }
      });
      return out.length ? out : null;
    },
  },
  xgroup: {
    arity: -2,
    run(ctx, [subArg, key, group, ...rest]) {
      const sub = subArg!.toUpperCase();
      const argc = 2 + (key !== undefined ? 1 : 0) + (group !== undefined ? 1 : 0) + rest.length;
      const arity: Record<string, number> = {
        CREATE: -5,
        SETID: -5,
        DESTROY: 4,
        CREATECONSUMER: 5,
        DELCONSUMER: 5,
      };
      subcommandCheck("xgroup", subArg!, arity, argc);
      let mkstream = false;
      let entriesRead = -1;
      if (sub === "CREATE" || sub === "SETID") {
        for (let i = 1; i < rest.length; i++) {
          const o = rest[i]!.toUpperCase();
          if (sub === "CREATE" && o === "MKSTREAM") mkstream = true;
          else if (o === "ENTRIESREAD" && i + 1 < rest.length) {
            entriesRead = parseInt64(rest[++i]!);
            if (entriesRead < 0 && entriesRead !== -1)
              throw err("ERR value for ENTRIESREAD must be positive or -1");
          } else
            throw err(
              `ERR unknown subcommand or wrong number of arguments for '${subArg}'. Try XGROUP HELP.`,
            );
        }
      }
      let s = getStream(ctx, key);
      if (!mkstream) {
        if (!s)
          throw err(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
          );
        if (!s.groups.has(group) && ["SETID", "CREATECONSUMER", "DELCONSUMER"].includes(sub))
          throw err(`NOGROUP No such consumer group '${group}' for key name '${key}'`);
      }
      const g = s?.groups.get(group);
      const wrongArgs = () => {
        throw err(`ERR unknown subcommand or wrong number of arguments for '${subArg}'. Try XGROUP HELP.`);
      };
      switch (sub) {
        case "CREATE": {
          if (argc < 5 || argc > 8) wrongArgs();
          const idArg = rest[0]!;
          const id = idArg === "$" ? (s ? s.lastId : ZERO) : strictId(idArg);
          if (!s) s = createStream(ctx, key);
          if (s.groups.has(group)) throw err("BUSYGROUP Consumer Group name already exists");
          s.groups.set(group, { lastId: id, entriesRead, pel: new Map(), consumers: new Map() });
          return OK();
        }
        case "SETID": {
          if (argc !== 5 && argc !== 7) wrongArgs();
          const idArg = rest[0]!;
          g!.lastId = idArg === "$" ? s!.lastId : strictId(idArg);
          g!.entriesRead = entriesRead;
          return OK();
        }
        case "DESTROY":
          if (argc !== 4) wrongArgs();
          return s!.groups.delete(group) ? 1 : 0;
        case "CREATECONSUMER": {
          if (argc !== 5) wrongArgs();
          if (g!.consumers.has(rest[0]!)) return 0;
          consumerOf(g!, rest[0]!, ctx.db.now());
          return 1;
        }
        default: {
          if (argc !== 5) wrongArgs();
          const c = g!.consumers.get(rest[0]!);
          if (!c) return 0;
          for (const k of c.pel.keys()) g!.pel.delete(k);
          g!.consumers.delete(c.name);
          return c.pel.size;
        }
      }
    },
  },
  xack: {
    arity: -4,
    run(ctx, [key, group, ...ids]) {
      const parsed = ids.map(strictId);
      const g = getStream(ctx, key!)?.groups.get(group!);
      if (!g) return 0;
      let n = 0;
      for (const id of parsed) {
        const k = idStr(id);
        const p = g.pel.get(k);
        if (!p) continue;
        g.pel.delete(k);
        g.consumers.get(p.consumer)?.pel.delete(k);
        n++;
      }
      return n;
    },
  },
  xpending: {
    arity: -3,
    run(ctx, [key, group, ...rest]) {
      let minIdle = 0;
      let args = rest;
      if (args[0]?.toUpperCase() === "IDLE") {
        if (args.length < 2) throw err(SYNTAX);
        minIdle = parseInt64(args[1]!);
        if (minIdle < 0) minIdle = 0;
        args = args.slice(2);
        if (args.length < 3) throw err(SYNTAX);
      }
      if (args.length !== 0 && args.length !== 3 && args.length !== 4) throw err(SYNTAX);
      let start: Id = ZERO;
      let end: Id = MAX_ID;
      let count = 0;
      if (args.length) {
        start = rangeBound(args[0]!, true);
        end = rangeBound(args[1]!, false);
        count = parseInt64(args[2]!);
        if (count < 0) count = 0;
      }
      const s = getStream(ctx, key!);
      const g = s?.groups.get(group!);
      if (!g) noGroup(key!, group!);
      const all = [...g.pel.values()].sort((a, b) => cmp(a.id, b.id));
      if (!args.length) {
        if (!all.length) return [0, null, null, null];
        const per = new Map<string, number>();
        for (const p of all) per.set(p.consumer, (per.get(p.consumer) ?? 0) + 1);
        const names = [...per.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        return [
          all.length,
          idStr(all[0]!.id),
          idStr(all[all.length - 1]!.id),
          names.map((n) => [n, String(per.get(n))]),
        ];
      }
      const now = ctx.db.now();
      const consumer = args[3];
      const rows: Reply[] = [];
      for (const p of all) {
        if (cmp(p.id, start) < 0 || cmp(p.id, end) > 0) continue;
        if (consumer !== undefined && p.consumer !== consumer) continue;
        const idle = Math.max(0, now - p.time);
        if (minIdle && idle < minIdle) continue;
        if (rows.length >= count) break;
        rows.push([idStr(p.id), p.consumer, idle, p.count]);
      }
      return rows;
    },
  },
  xclaim: {
    arity: -6,
    run(ctx, [key, group, consumer, idleArg, ...rest]) {
      const s = getStream(ctx, key!);
      const g = s?.groups.get(group!);
      const minIdle = Math.max(0, parseInt64(idleArg!, "ERR Invalid min-idle-time argument for XCLAIM"));
      const ids: Id[] = [];
      let j = 0;
      for (; j < rest.length; j++) {
        try {
          ids.push(strictId(rest[j]!));
        } catch {
          break;
        }
      }
      const now = ctx.db.now();
      let deliveryTime = now;
      let retry: number | undefined;
      let force = false;
      let justId = false;
      for (; j < rest.length; j++) {
        const o = rest[j]!.toUpperCase();
        const more = rest.length - 1 - j;
        if (o === "FORCE") force = true;
        else if (o === "JUSTID") justId = true;
        else if (o === "IDLE" && more)
          deliveryTime = now - parseInt64(rest[++j]!, "ERR Invalid IDLE option argument for XCLAIM");
        else if (o === "TIME" && more)
          deliveryTime = parseInt64(rest[++j]!, "ERR Invalid TIME option argument for XCLAIM");
        else if (o === "RETRYCOUNT" && more)
          retry = parseInt64(rest[++j]!, "ERR Invalid RETRYCOUNT option argument for XCLAIM");
        else if (o === "LASTID" && more) {
          const last = strictId(rest[++j]!);
          if (g && cmp(last, g.lastId) > 0) g.lastId = last;
        } else throw err(`ERR Unrecognized XCLAIM option '${rest[j]}'`);
      }
      if (deliveryTime > now) deliveryTime = now;
      if (!g) noGroup(key!, group!);
      const c = consumerOf(g, consumer!, now);
      c.seen = now;
      const out: Reply[] = [];
      for (const id of ids) {
        const k = idStr(id);
        let p = g.pel.get(k);
        const e = s!.get(id);
        if (force && !p && e) {
          p = { id, consumer: c.name, time: now, count: 0 };
          g.pel.set(k, p);
          c.pel.set(k, p);
        }
        if (!p) continue;
        if (!e) {
          g.pel.delete(k);
          g.consumers.get(p.consumer)?.pel.delete(k);
          continue;
        }
        if (minIdle && now - p.time < minIdle) continue;
        g.consumers.get(p.consumer)?.pel.delete(k);
        p.consumer = c.name;
        c.pel.set(k, p);
        p.time = deliveryTime;
        if (retry !== undefined) p.count = retry;
        else if (!justId) p.count++;
        out.push(justId ? k : entryReply(e));
      }
      return out;
    },
  },
  xautoclaim: {
    arity: -6,
    run(ctx, [key, group, consumer, idleArg, startArg, ...opts]) {
      // Arguments first, so syntax errors win over a missing key or group (as in Redis 7.0).
      const minIdle = Math.max(0, parseInt64(idleArg!, "ERR Invalid min-idle-time argument for XAUTOCLAIM"));
      const start = rangeBound(startArg!, true);
      let count = 100;
      let justId = false;
      for (let j = 0; j < opts.length; j++) {
        const o = opts[j]!.toUpperCase();
        if (o === "COUNT" && j + 1 < opts.length) {
          let n: number;
          try {
            n = parseInt64(opts[++j]!);
          } catch {
            throw err("ERR COUNT must be > 0");
          }
          if (n < 1 || n > Math.floor(Number.MAX_SAFE_INTEGER / 16)) throw err("ERR COUNT must be > 0");
          count = n;
        } else if (o === "JUSTID") justId = true;
        else throw err(SYNTAX);
      }
      const s = getStream(ctx, key!);
      const g = s?.groups.get(group!);
      if (!s || !g) noGroup(key!, group!);
      const now = ctx.db.now();
      let attempts = count * 10;
      const pel = [...g.pel.values()].filter((p) => cmp(p.id, start) >= 0).sort((a, b) => cmp(a.id, b.id));
      const claimed: Reply[] = [];
      const deleted: Reply[] = [];
      let c: Consumer | undefined;
      let i = 0;
      for (; attempts > 0 && count > 0 && i < pel.length; i++) {
        attempts--;
        const p = pel[i]!;
        const k = idStr(p.id);
        const e = s.get(p.id);
        if (!e) {
          // The entry is gone: its PEL entry goes too, reported in the third reply element.
          g.pel.delete(k);
          g.consumers.get(p.consumer)?.pel.delete(k);
          deleted.push(k);
          count--;
          continue;
        }
        if (minIdle && now - p.time < minIdle) continue;
        c ??= consumerOf(g, consumer!, now);
        if (p.consumer !== c.name) {
          g.consumers.get(p.consumer)?.pel.delete(k);
          p.consumer = c.name;
          c.pel.set(k, p);
        }
        p.time = now;
        if (!justId) p.count++;
        claimed.push(justId ? k : entryReply(e));
        count--;
      }
      // The cursor: the next PEL entry after the last one examined, or 0-0 at the end.
      const next = pel[i];
      return [next ? idStr(next.id) : "0-0", claimed, deleted];
    },
  },
  xinfo: {
    arity: -2,
    run(ctx, [subArg, key, ...rest]) {
      const sub = subArg!.toUpperCase();
      const argc = 2 + (key === undefined ? 0 : 1) + rest.length;
      subcommandCheck("xinfo", subArg!, { STREAM: -3, GROUPS: 3, CONSUMERS: 4 }, argc);
      if (key === undefined) throw err(SYNTAX);
      const s = getStream(ctx, key);
      if (!s) throw err("ERR no such key");
      const now = ctx.db.now();
      if (sub === "GROUPS") {
        return [...s.groups.entries()]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, g]) => [
            "name",
            name,
            "consumers",
            g.consumers.size,
            "pending",
            g.pel.size,
            "last-delivered-id",
            idStr(g.lastId),
            "entries-read",
            g.entriesRead === -1 ? null : g.entriesRead,
            "lag",
            s.lag(g),
          ]);
      }
      if (sub === "CONSUMERS") {
        const g = s.groups.get(rest[0]!);
        if (!g) throw err(`NOGROUP No such consumer group '${rest[0]}' for key name '${key}'`);
        return [...g.consumers.values()]
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
          .map((c) => ["name", c.name, "pending", c.pel.size, "idle", Math.max(0, now - c.seen)]);
      }
      if (rest.length) throw err(SYNTAX);
      const nodes = new Set(s.entries.map((e) => e.node)).size;
      const first = s.entries[0];
      const last = s.entries[s.entries.length - 1];
      return [
        "length",
        s.entries.length,
        "radix-tree-keys",
        nodes,
        "radix-tree-nodes",
        nodes + 1,
        "last-generated-id",
        idStr(s.lastId),
        "max-deleted-entry-id",
        idStr(s.maxDeleted),
        "entries-added",
        s.entriesAdded,
        "recorded-first-entry-id",
        idStr(s.firstId),
        "groups",
        s.groups.size,
        "first-entry",
        first ? entryReply(first) : null,
        "last-entry",
        last ? entryReply(last) : null,
      ];
    },
  },
};
