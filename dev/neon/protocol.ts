/**
 * The few pieces of the PostgreSQL v3 wire protocol the endpoint speaks itself: building
 * frontend messages (simple and extended query), splitting byte streams into messages, and
 * decoding the backend messages an HTTP /sql response is built from. Both backends (PGlite's
 * execProtocolRaw and raw TCP sockets to PostgreSQL) exchange these exact bytes, so one codec
 * serves both and the JSON is produced straight from the wire, never through a typed client.
 */

const utf8 = new TextEncoder();

/** A typed message (frontend or backend): type byte, int32 length (self-inclusive), body. */
export function message(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

export function cstring(s: string): Buffer {
  const b = Buffer.from(s, "utf8");
  const out = Buffer.allocUnsafe(b.length + 1);
  b.copy(out, 0);
  out[b.length] = 0;
  return out;
}

/** Simple-protocol Query ('Q'). */
export function queryMessage(sql: string): Buffer {
  return message("Q", cstring(sql));
}

export const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);
export const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

/** CopyFail ('f'): ends a COPY FROM STDIN with an error carrying `reason`. */
export function copyFail(reason: string): Buffer {
  return message("f", cstring(reason));
}

/**
 * Sent after every Execute of an HTTP request. Outside COPY the backend ignores CopyFail (the
 * protocol says so: it may be a leftover of a failed COPY), so it costs nothing; if the statement
 * was a COPY FROM STDIN, it is the next message the backend reads in copy-in mode, so the COPY
 * fails right away ("COPY from stdin failed: ...", 57014) instead of waiting forever for data —
 * and before any later message (Sync is ignored in copy-in mode, anything else would be a
 * protocol violation that swallows the rest of the pipeline).
 */
export const HTTP_COPY_FAIL = copyFail("COPY FROM STDIN is not supported over HTTP");

/** A param as the driver sends it: a string (already in Postgres text form) or null. */
export type Param = string | null;

/**
 * Parse (unnamed statement, no declared types) + Bind (unnamed portal, text params, text results)
 * + Describe portal + Execute (no row limit), the same sequence node-postgres and Neon's proxy use.
 * `tail` (e.g. CopyFail + Sync) follows in the same buffer; without Sync the caller decides where
 * the implicit transaction ends.
 */
export function extendedQuery(sql: string, params: readonly Param[], tail?: Buffer): Buffer {
  const text = utf8.encode(sql);
  // Parse: name "" \0, query \0, int16 0 param types
  const parseLen = 4 + 1 + text.length + 1 + 2;
  const encoded = params.map((p) => (p === null ? null : Buffer.from(p, "utf8")));
  // Bind: portal "" \0, statement "" \0, int16 0 param formats (all text), int16 n, values, int16 0 result formats
  let bindLen = 4 + 1 + 1 + 2 + 2 + 2;
  for (const v of encoded) bindLen += 4 + (v === null ? 0 : v.length);
  const describeLen = 4 + 1 + 1;
  const executeLen = 4 + 1 + 4;
  const out = Buffer.allocUnsafe(
    1 + parseLen + 1 + bindLen + 1 + describeLen + 1 + executeLen + (tail ? tail.length : 0),
  );
  let o = 0;
  out[o++] = 0x50; // P
  out.writeInt32BE(parseLen, o);
  o += 4;
  out[o++] = 0;
  out.set(text, o);
  o += text.length;
  out[o++] = 0;
  out.writeInt16BE(0, o);
  o += 2;
  out[o++] = 0x42; // B
  out.writeInt32BE(bindLen, o);
  o += 4;
  out[o++] = 0;
  out[o++] = 0;
  out.writeInt16BE(0, o);
  o += 2;
  out.writeInt16BE(encoded.length, o);
  o += 2;
  for (const v of encoded) {
    if (v === null) {
      out.writeInt32BE(-1, o);
      o += 4;
    } else {
      out.writeInt32BE(v.length, o);
      o += 4;
      v.copy(out, o);
      o += v.length;
    }
  }
  out.writeInt16BE(0, o);
  o += 2;
  out[o++] = 0x44; // D
  out.writeInt32BE(describeLen, o);
  o += 4;
  out[o++] = 0x50; // 'P' portal
  out[o++] = 0;
  out[o++] = 0x45; // E
  out.writeInt32BE(executeLen, o);
  o += 4;
  out[o++] = 0;
  out.writeInt32BE(0, o);
  if (tail) tail.copy(out, o + 4);
  return out;
}

/** FunctionCall ('F'): the function with OID `oid`, text arguments, text result. */
export function functionCall(oid: number, args: readonly string[]): Buffer {
  const values = args.map((a) => Buffer.from(a, "utf8"));
  const body = Buffer.allocUnsafe(4 + 2 + 2 + values.reduce((n, v) => n + 4 + v.length, 0) + 2);
  let o = body.writeInt32BE(oid, 0);
  o = body.writeInt16BE(0, o); // no argument format codes: all text
  o = body.writeInt16BE(values.length, o);
  for (const v of values) {
    o = body.writeInt32BE(v.length, o);
    o += v.copy(body, o);
  }
  body.writeInt16BE(0, o); // text result
  return message("F", body);
}

/** A FunctionCall's reply: the FunctionCallResponse ('V') value, or the ErrorResponse. */
export function decodeFunctionResult(buf: Buffer): { value: string | null; error: PgErrorFields | null } {
  let o = 0;
  while (o + 5 <= buf.length) {
    const end = o + 1 + buf.readInt32BE(o + 1);
    if (buf[o] === 0x45) return { value: null, error: decodeError(buf, o + 5, end) };
    if (buf[o] === 0x56) {
      const len = buf.readInt32BE(o + 5);
      return { value: len < 0 ? null : buf.toString("utf8", o + 9, o + 9 + len), error: null };
    }
    o = end;
  }
  return { value: null, error: null };
}

/** Backend message builders used when the endpoint itself plays the server. */
export function authenticationRequest(code: number): Buffer {
  const body = Buffer.allocUnsafe(4);
  body.writeInt32BE(code, 0);
  return message("R", body);
}

export function parameterStatus(name: string, value: string): Buffer {
  return message("S", Buffer.concat([cstring(name), cstring(value)]));
}

export function backendKeyData(pid: number, secret: number): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeInt32BE(pid, 0);
  body.writeInt32BE(secret, 4);
  return message("K", body);
}

export function readyForQuery(status: "I" | "T" | "E"): Buffer {
  return message("Z", Buffer.from(status, "latin1"));
}

/** ErrorResponse with the fields a client needs (severity, code, message). */
export function errorResponse(severity: string, code: string, text: string): Buffer {
  return message(
    "E",
    Buffer.concat([
      Buffer.from("S", "latin1"),
      cstring(severity),
      Buffer.from("V", "latin1"),
      cstring(severity),
      Buffer.from("C", "latin1"),
      cstring(code),
      Buffer.from("M", "latin1"),
      cstring(text),
      Buffer.from([0]),
    ]),
  );
}

/** StartupMessage (protocol 3.0) with the given parameters. */
export function startupMessage(params: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(params)) parts.push(cstring(k), cstring(v));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeInt32BE(8 + body.length, 0);
  out.writeInt32BE(196608, 4);
  body.copy(out, 8);
  return out;
}

/** Reads the key/value pairs of a StartupMessage body (after length and protocol). */
export function readStartupParams(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let o = 8;
  while (o < buf.length && buf[o] !== 0) {
    const kEnd = buf.indexOf(0, o);
    const vEnd = buf.indexOf(0, kEnd + 1);
    if (kEnd < 0 || vEnd < 0) break;
    out[buf.toString("utf8", o, kEnd)] = buf.toString("utf8", kEnd + 1, vEnd);
    o = vEnd + 1;
  }
  return out;
}

/** Offsets of the complete typed messages in buf[from..]; `end` is where the first incomplete one starts. */
export function completeMessages(buf: Buffer, from = 0): { starts: number[]; end: number } {
  const starts: number[] = [];
  let o = from;
  while (o + 5 <= buf.length) {
    const len = buf.readInt32BE(o + 1);
    if (o + 1 + len > buf.length) break;
    starts.push(o);
    o += 1 + len;
  }
  return { starts, end: o };
}

/**
 * Counts ReadyForQuery messages across chunks of a backend stream without copying, so a response
 * of many chunks is concatenated once. `feed` returns true once `target` Z messages were seen and
 * the last one ended exactly at a chunk boundary or earlier.
 */
export class ReadyCounter {
  private header = Buffer.alloc(5);
  private headerHave = 0;
  private skip = 0;
  private currentIsZ = false;
  private fed = 0;
  seen = 0;
  lastStatus = 0;
  /** Which ReadyForQuery to remember the end of (1-based; 0 = none) ... */
  mark = 0;
  /** ... and the stream offset just past it, or -1 until it is seen. */
  markEnd = -1;
  /** A CopyBothResponse ('W') was seen: the backend now waits for copy data forever. */
  copyBoth = false;

  /** Starts counting afresh (reused across requests instead of allocating a new counter). */
  reset(): void {
    this.headerHave = 0;
    this.skip = 0;
    this.currentIsZ = false;
    this.fed = 0;
    this.seen = 0;
    this.lastStatus = 0;
    this.mark = 0;
    this.markEnd = -1;
    this.copyBoth = false;
  }

  private sawReady(at: number): void {
    if (++this.seen === this.mark) this.markEnd = this.fed + at;
  }

  feed(chunk: Buffer): void {
    let o = 0;
    while (o < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - o);
        if (this.currentIsZ && n > 0) this.lastStatus = chunk[o + n - 1]!;
        this.skip -= n;
        o += n;
        if (this.skip === 0 && this.currentIsZ) this.sawReady(o);
        continue;
      }
      const n = Math.min(5 - this.headerHave, chunk.length - o);
      chunk.copy(this.header, this.headerHave, o, o + n);
      this.headerHave += n;
      o += n;
      if (this.headerHave === 5) {
        this.headerHave = 0;
        this.currentIsZ = this.header[0] === 0x5a;
        if (this.header[0] === 0x57) this.copyBoth = true;
        this.skip = this.header.readInt32BE(1) - 4;
        if (this.skip === 0 && this.currentIsZ) this.sawReady(o);
      }
    }
    this.fed += chunk.length;
  }
}

/** True if buf (whole backend messages) holds an ErrorResponse. */
export function hasError(buf: Buffer): boolean {
  let o = 0;
  while (o + 5 <= buf.length) {
    if (buf[o] === 0x45) return true;
    o += 1 + buf.readInt32BE(o + 1);
  }
  return false;
}

/** BackendKeyData (process id, secret) among startup replies, for CancelRequest. */
export function findKeyData(buf: Buffer): { pid: number; secret: number } | null {
  let o = 0;
  while (o + 5 <= buf.length) {
    const next = o + 1 + buf.readInt32BE(o + 1);
    if (buf[o] === 0x4b && next <= buf.length)
      return { pid: buf.readInt32BE(o + 5), secret: buf.readInt32BE(o + 9) };
    o = next;
  }
  return null;
}

/** CancelRequest (sent on a fresh connection, no type byte). */
export function cancelRequest(pid: number, secret: number): Buffer {
  const out = Buffer.allocUnsafe(16);
  out.writeInt32BE(16, 0);
  out.writeInt32BE(80877102, 4);
  out.writeInt32BE(pid, 8);
  out.writeInt32BE(secret, 12);
  return out;
}

export interface FieldDescription {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: "text" | "binary";
}

/** An ErrorResponse as the JSON keys node-postgres and Neon's HTTP API use. */
export interface PgErrorFields {
  message: string;
  severity?: string;
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
}

const errorFieldNames: Record<string, keyof PgErrorFields> = {
  S: "severity",
  C: "code",
  M: "message",
  D: "detail",
  H: "hint",
  P: "position",
  p: "internalPosition",
  q: "internalQuery",
  W: "where",
  s: "schema",
  t: "table",
  c: "column",
  d: "dataType",
  n: "constraint",
  F: "file",
  L: "line",
  R: "routine",
};

/** Decodes the body of an ErrorResponse/NoticeResponse starting at `o` (after type+length). */
export function decodeError(buf: Buffer, o: number, end: number): PgErrorFields {
  const out: PgErrorFields = { message: "" };
  while (o < end && buf[o] !== 0) {
    const code = String.fromCharCode(buf[o]!);
    const zero = buf.indexOf(0, o + 1);
    const key = errorFieldNames[code];
    if (key) out[key] = buf.toString("utf8", o + 1, zero);
    o = zero + 1;
  }
  return out;
}

export interface QueryResult {
  command: string;
  rowCount: number | null;
  rows: (string | null)[][];
  /** Shared between results of the same statement: read only. */
  fields: readonly FieldDescription[];
}

const noFields: readonly FieldDescription[] = Object.freeze([]);

const tagPattern = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/;

/** Splits a CommandComplete tag the way node-postgres does ("INSERT 0 3" → INSERT, 3). */
function parseTag(tag: string): { command: string; rowCount: number | null } {
  const m = tagPattern.exec(tag);
  if (!m) return { command: tag, rowCount: null };
  const count = m[3] ?? m[2];
  return { command: m[1]!, rowCount: count === undefined ? null : Number(count) };
}

/**
 * Decoded RowDescriptions by their raw bytes: the same few statements run over and over, so their
 * field lists are decoded once and shared (frozen: callers only read them). Bounded.
 */
const rowDescriptions = new Map<string, readonly FieldDescription[]>();
const ROW_DESCRIPTIONS_MAX = 512;

function decodeRowDescription(buf: Buffer, start: number, end: number): readonly FieldDescription[] {
  const key = buf.toString("latin1", start, end);
  const hit = rowDescriptions.get(key);
  if (hit) return hit;
  const n = buf.readInt16BE(start);
  let p = start + 2;
  const fields = new Array<FieldDescription>(n);
  for (let i = 0; i < n; i++) {
    const zero = buf.indexOf(0, p);
    const name = buf.toString("utf8", p, zero);
    p = zero + 1;
    fields[i] = Object.freeze({
      name,
      tableID: buf.readInt32BE(p),
      columnID: buf.readInt16BE(p + 4),
      dataTypeID: buf.readInt32BE(p + 6),
      dataTypeSize: buf.readInt16BE(p + 10),
      dataTypeModifier: buf.readInt32BE(p + 12),
      format: buf.readInt16BE(p + 16) === 0 ? "text" : "binary",
    });
    p += 18;
  }
  Object.freeze(fields);
  if (rowDescriptions.size >= ROW_DESCRIPTIONS_MAX) rowDescriptions.clear();
  rowDescriptions.set(key, fields);
  return fields;
}

/** A stream of backend messages, split into segments at each ReadyForQuery. */
export interface DecodedSegment {
  results: QueryResult[];
  error: PgErrorFields | null;
  /** Transaction status of the segment's ReadyForQuery (I, T or E), or "" if none. */
  status: string;
  /** Tag of the last CommandComplete (used to tell COMMIT from a forced ROLLBACK). */
  lastTag: string;
}

/** Decodes backend output into one segment per ReadyForQuery (plus a trailing one without Z). */
export function decodeSegments(buf: Buffer): DecodedSegment[] {
  const segments: DecodedSegment[] = [];
  let seg: DecodedSegment = { results: [], error: null, status: "", lastTag: "" };
  let fields: readonly FieldDescription[] = noFields;
  let rows: (string | null)[][] = [];
  let o = 0;
  while (o + 5 <= buf.length) {
    const type = buf[o]!;
    const len = buf.readInt32BE(o + 1);
    const start = o + 5;
    const end = o + 1 + len;
    switch (type) {
      case 0x54: // RowDescription
        fields = decodeRowDescription(buf, start, end);
        break;
      case 0x44: {
        // DataRow
        const n = buf.readInt16BE(start);
        let p = start + 2;
        const row = new Array<string | null>(n);
        for (let i = 0; i < n; i++) {
          const l = buf.readInt32BE(p);
          p += 4;
          if (l < 0) row[i] = null;
          else {
            row[i] = buf.toString("utf8", p, p + l);
            p += l;
          }
        }
        rows.push(row);
        break;
      }
      case 0x43: {
        // CommandComplete
        const tag = buf.toString("utf8", start, end - 1);
        seg.lastTag = tag;
        seg.results.push({ ...parseTag(tag), rows, fields });
        fields = noFields;
        rows = [];
        break;
      }
      case 0x49: // EmptyQueryResponse
        seg.results.push({ command: "", rowCount: null, rows: [], fields: noFields });
        fields = noFields;
        rows = [];
        break;
      case 0x45: // ErrorResponse
        if (!seg.error) seg.error = decodeError(buf, start, end);
        fields = noFields;
        rows = [];
        break;
      case 0x5a: // ReadyForQuery
        seg.status = String.fromCharCode(buf[start]!);
        segments.push(seg);
        seg = { results: [], error: null, status: "", lastTag: "" };
        break;
      default:
        // ParseComplete, BindComplete, NoData, ParameterStatus, Notice, Notification: nothing to keep.
        break;
    }
    o = end;
  }
  if (seg.results.length || seg.error) segments.push(seg);
  return segments;
}

/** Quotes an identifier for SQL text (roles, databases). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for SQL text. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
