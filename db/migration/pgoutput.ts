/**
 * A decoder of the logical replication protocol that PostgreSQL's built-in `pgoutput` plugin
 * writes, version 1 (https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html),
 * for the CDC job (cdc.ts): it reads one message per row of
 * `pg_logical_slot_peek_binary_changes(..., 'proto_version', '1', ...)`, so no replication
 * connection and no extension (wal2json) is needed on the source.
 *
 * Pure functions over bytes (Uint8Array, which Node's Buffer is): nothing here touches a database.
 * Values arrive in the source's text output format and stay strings (the target parses them with
 * the same mapping SQL the sync uses); LSNs are strings as PostgreSQL prints them ("16/B374D848").
 */

/** A column whose value did not change in an UPDATE and is stored out of line (TOAST): not sent. */
export const UNCHANGED: unique symbol = Symbol("pgoutput.unchanged-toast");
export type Unchanged = typeof UNCHANGED;

/** One column of a tuple: its text, null, or UNCHANGED. */
export type Cell = string | null | Unchanged;

export interface RelationColumn {
  name: string;
  /** Part of the replica identity (the key sent with updates and deletes). */
  key: boolean;
  typeOid: number;
  typmod: number;
}

export interface BeginMessage {
  type: "begin";
  /** LSN of the transaction's commit record. */
  finalLsn: string;
  commitTime: Date;
  xid: number;
}

export interface CommitMessage {
  type: "commit";
  flags: number;
  /** LSN of the commit record. */
  commitLsn: string;
  /** LSN just after the commit record: where a slot must be advanced to so that this transaction
   * is not decoded again (advancing to `commitLsn` decodes it once more). */
  endLsn: string;
  commitTime: Date;
}

export interface OriginMessage {
  type: "origin";
  lsn: string;
  name: string;
}

export interface RelationMessage {
  type: "relation";
  relationId: number;
  namespace: string;
  name: string;
  /** d default, n nothing, f full, i index */
  replicaIdentity: string;
  columns: RelationColumn[];
}

export interface TypeMessage {
  type: "type";
  typeOid: number;
  namespace: string;
  name: string;
}

export interface InsertMessage {
  type: "insert";
  relationId: number;
  newTuple: Cell[];
}

export interface UpdateMessage {
  type: "update";
  relationId: number;
  /** K: the old key (non-key columns null), O: the whole old row (REPLICA IDENTITY FULL), null:
   * not sent (the key did not change and identity is not FULL). */
  oldKind: "K" | "O" | null;
  oldTuple: Cell[] | null;
  newTuple: Cell[];
}

export interface DeleteMessage {
  type: "delete";
  relationId: number;
  oldKind: "K" | "O";
  oldTuple: Cell[];
}

export interface TruncateMessage {
  type: "truncate";
  relationIds: number[];
  cascade: boolean;
  restartIdentity: boolean;
}

export interface LogicalMessage {
  type: "message";
  transactional: boolean;
  lsn: string;
  prefix: string;
  content: Uint8Array;
}

export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;

export class PgoutputError extends Error {
  override name = "PgoutputError";
}

// ------------------------------------------------------------------------------------------------
// LSNs and timestamps

/** An LSN as PostgreSQL prints it: two hex halves, upper case, no padding. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new PgoutputError(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** -1, 0 or 1, as a comparator. */
export function compareLsn(a: string, b: string): number {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** PostgreSQL's epoch for timestamps on the wire: 2000-01-01 00:00:00 UTC, in ms since 1970. */
const PG_EPOCH_MS = 946_684_800_000;

/** Microseconds since 2000-01-01 → Date (millisecond precision is all a lag needs). */
export function pgTimestampToDate(micros: bigint): Date {
  return new Date(PG_EPOCH_MS + Number(micros / 1000n));
}

// ------------------------------------------------------------------------------------------------
// Decoding one message

const utf8 = new TextDecoder("utf-8", { fatal: true });

class Reader {
  private readonly view: DataView;
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {
    // A Buffer may be a window on a larger pool: honour its byteOffset.
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number, what: string) {
    if (this.offset + n > this.bytes.byteLength)
      throw new PgoutputError(`message truncated reading ${what} at byte ${this.offset}`);
  }
  byte(what = "a byte"): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }
  char(what = "a tag"): string {
    return String.fromCharCode(this.byte(what));
  }
  int8(what = "an int8"): number {
    this.need(1, what);
    return this.view.getInt8(this.offset++);
  }
  int16(what = "an int16"): number {
    this.need(2, what);
    const v = this.view.getInt16(this.offset);
    this.offset += 2;
    return v;
  }
  int32(what = "an int32"): number {
    this.need(4, what);
    const v = this.view.getInt32(this.offset);
    this.offset += 4;
    return v;
  }
  uint32(what = "a uint32"): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }
  int64(what = "an int64"): bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.offset);
    this.offset += 8;
    return v;
  }
  lsn(what = "an LSN"): string {
    this.need(8, what);
    const v = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return formatLsn(v);
  }
  timestamp(what = "a timestamp"): Date {
    return pgTimestampToDate(this.int64(what));
  }
  cstring(what = "a string"): string {
    const end = this.bytes.indexOf(0, this.offset);
    if (end < 0) throw new PgoutputError(`unterminated string reading ${what} at byte ${this.offset}`);
    const s = utf8.decode(this.bytes.subarray(this.offset, end));
    this.offset = end + 1;
    return s;
  }
  bytesOf(n: number, what: string): Uint8Array {
    if (n < 0) throw new PgoutputError(`negative length reading ${what} at byte ${this.offset}`);
    this.need(n, what);
    const b = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
  done(type: string) {
    if (this.offset !== this.bytes.byteLength)
      throw new PgoutputError(
        `${this.bytes.byteLength - this.offset} trailing bytes after a '${type}' message`,
      );
  }
}

function tupleData(r: Reader): Cell[] {
  const n = r.int16("a column count");
  if (n < 0) throw new PgoutputError(`negative column count ${n}`);
  const cells: Cell[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.char("a column kind");
    if (kind === "n") cells.push(null);
    else if (kind === "u") cells.push(UNCHANGED);
    else if (kind === "t") {
      const len = r.int32("a value length");
      cells.push(utf8.decode(r.bytesOf(len, "a value")));
    } else {
      // 'b' (binary) exists from protocol 2 with the `binary` option, which we never ask for.
      throw new PgoutputError(`unsupported column kind '${kind}' in tuple data (protocol 1, text only)`);
    }
  }
  return cells;
}

/** Decodes one pgoutput (protocol 1) message. Throws PgoutputError on anything malformed. */
export function decodePgoutput(data: Uint8Array): PgoutputMessage {
  const r = new Reader(data);
  const type = r.char("the message type");
  let msg: PgoutputMessage;
  switch (type) {
    case "B":
      msg = {
        type: "begin",
        finalLsn: r.lsn("the final LSN"),
        commitTime: r.timestamp("the commit time"),
        xid: r.uint32("the xid"),
      };
      break;
    case "C":
      msg = {
        type: "commit",
        flags: r.int8("the flags"),
        commitLsn: r.lsn("the commit LSN"),
        endLsn: r.lsn("the end LSN"),
        commitTime: r.timestamp("the commit time"),
      };
      break;
    case "O":
      msg = { type: "origin", lsn: r.lsn("the origin LSN"), name: r.cstring("the origin name") };
      break;
    case "R": {
      const relationId = r.uint32("the relation id");
      const namespace = r.cstring("the namespace");
      const name = r.cstring("the relation name");
      const replicaIdentity = r.char("the replica identity");
      const n = r.int16("the column count");
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.int8("column flags");
        columns.push({
          key: (flags & 1) === 1,
          name: r.cstring("a column name"),
          typeOid: r.uint32("a type oid"),
          typmod: r.int32("a typmod"),
        });
      }
      msg = { type: "relation", relationId, namespace, name, replicaIdentity, columns };
      break;
    }
    case "Y":
      msg = {
        type: "type",
        typeOid: r.uint32("the type oid"),
        namespace: r.cstring("the namespace"),
        name: r.cstring("the type name"),
      };
      break;
    case "I": {
      const relationId = r.uint32("the relation id");
      const tag = r.char("the tuple tag");
      if (tag !== "N") throw new PgoutputError(`insert: expected 'N', got '${tag}'`);
      msg = { type: "insert", relationId, newTuple: tupleData(r) };
      break;
    }
    case "U": {
      const relationId = r.uint32("the relation id");
      let tag = r.char("the tuple tag");
      let oldKind: "K" | "O" | null = null;
      let oldTuple: Cell[] | null = null;
      if (tag === "K" || tag === "O") {
        oldKind = tag;
        oldTuple = tupleData(r);
        tag = r.char("the tuple tag");
      }
      if (tag !== "N") throw new PgoutputError(`update: expected 'N', got '${tag}'`);
      msg = { type: "update", relationId, oldKind, oldTuple, newTuple: tupleData(r) };
      break;
    }
    case "D": {
      const relationId = r.uint32("the relation id");
      const tag = r.char("the tuple tag");
      if (tag !== "K" && tag !== "O") throw new PgoutputError(`delete: expected 'K' or 'O', got '${tag}'`);
      msg = { type: "delete", relationId, oldKind: tag, oldTuple: tupleData(r) };
      break;
    }
    case "T": {
      const n = r.int32("the relation count");
      const options = r.int8("the options");
      const relationIds: number[] = [];
      for (let i = 0; i < n; i++) relationIds.push(r.uint32("a relation id"));
      msg = {
        type: "truncate",
        relationIds,
        cascade: (options & 1) === 1,
        restartIdentity: (options & 2) === 2,
      };
      break;
    }
    case "M": {
      const flags = r.int8("the flags");
      const lsn = r.lsn("the message LSN");
      const prefix = r.cstring("the prefix");
      const len = r.int32("the content length");
      msg = {
        type: "message",
        transactional: (flags & 1) === 1,
        lsn,
        prefix,
        content: r.bytesOf(len, "content"),
      };
      break;
    }
    default:
      throw new PgoutputError(`unknown pgoutput message type '${type}' (protocol 1)`);
  }
  r.done(type);
  return msg;
}

// ------------------------------------------------------------------------------------------------
// Messages → committed transactions

export interface RowChange {
  op: "insert" | "update" | "delete";
  relation: RelationMessage;
  /** insert, update: the new row. */
  newTuple: Cell[] | null;
  /** update (when sent), delete: the old key or row. */
  oldKind: "K" | "O" | null;
  oldTuple: Cell[] | null;
}

export interface SourceTransaction {
  xid: number;
  /** LSN of the commit record. */
  commitLsn: string;
  /** LSN after the commit record: the transaction's position for ordering, skipping and
   * advancing the slot (see CommitMessage.endLsn). */
  endLsn: string;
  commitTime: Date;
  changes: RowChange[];
  /** Relations a TRUNCATE in this transaction emptied ("schema.name"). */
  truncated: string[];
}

export interface Assembled {
  transactions: SourceTransaction[];
  /** Messages after the last commit (a transaction cut off): not returned, to be read again. */
  incomplete: boolean;
}

/**
 * Groups a stream of messages, in the order the slot returned them, into committed
 * transactions. `relations` carries Relation messages across calls: pgoutput sends a relation
 * once per decoding session, before its first change, so a later transaction in the same peek
 * refers to it without repeating it. A change for a relation never described is a protocol error.
 */
export function assembleTransactions(
  messages: Iterable<PgoutputMessage>,
  relations: Map<number, RelationMessage> = new Map(),
): Assembled {
  const transactions: SourceTransaction[] = [];
  let open: { xid: number; changes: RowChange[]; truncated: string[] } | null = null;
  const relationOf = (id: number) => {
    const rel = relations.get(id);
    if (!rel) throw new PgoutputError(`change for relation ${id} before its Relation message`);
    return rel;
  };
  const inTransaction = (what: string) => {
    if (!open) throw new PgoutputError(`${what} outside a transaction`);
    return open;
  };
  for (const m of messages) {
    switch (m.type) {
      case "begin":
        if (open) throw new PgoutputError(`Begin of xid ${m.xid} inside xid ${open.xid}`);
        open = { xid: m.xid, changes: [], truncated: [] };
        break;
      case "commit": {
        const tx = inTransaction("Commit");
        transactions.push({
          xid: tx.xid,
          commitLsn: m.commitLsn,
          endLsn: m.endLsn,
          commitTime: m.commitTime,
          changes: tx.changes,
          truncated: tx.truncated,
        });
        open = null;
        break;
      }
      case "relation":
        relations.set(m.relationId, m);
        break;
      case "insert":
        inTransaction("Insert").changes.push({
          op: "insert",
          relation: relationOf(m.relationId),
          newTuple: m.newTuple,
          oldKind: null,
          oldTuple: null,
        });
        break;
      case "update":
        inTransaction("Update").changes.push({
          op: "update",
          relation: relationOf(m.relationId),
          newTuple: m.newTuple,
          oldKind: m.oldKind,
          oldTuple: m.oldTuple,
        });
        break;
      case "delete":
        inTransaction("Delete").changes.push({
          op: "delete",
          relation: relationOf(m.relationId),
          newTuple: null,
          oldKind: m.oldKind,
          oldTuple: m.oldTuple,
        });
        break;
      case "truncate": {
        const tx = inTransaction("Truncate");
        for (const id of m.relationIds) {
          const rel = relationOf(id);
          tx.truncated.push(`${rel.namespace}.${rel.name}`);
        }
        break;
      }
      // Origin, Type and logical Message carry nothing the migration applies.
      case "origin":
      case "type":
      case "message":
        break;
    }
  }
  return { transactions, incomplete: open !== null };
}

/** A tuple as an object keyed by the relation's column names. */
export function tupleToRecord(relation: RelationMessage, tuple: Cell[]): Record<string, Cell> {
  if (tuple.length !== relation.columns.length)
    throw new PgoutputError(
      `tuple of ${tuple.length} columns for ${relation.namespace}.${relation.name} with ${relation.columns.length}`,
    );
  return Object.fromEntries(relation.columns.map((c, i) => [c.name, tuple[i]!]));
}
