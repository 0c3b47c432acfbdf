/**
 * COPY ... TO STDOUT on the driver's WebSocket Pool client, in pages.
 *
 * @neondatabase/serverless' Client is node-postgres' Client over a WebSocket, but pg-copy-streams
 * cannot ride on it (it pauses the raw socket, which that socket does not offer). The Client does
 * pass each parsed CopyData message to the active query, so CopyOut is such a query: it collects
 * one COPY's output. Neither can apply backpressure to the socket, so a table is read in pages
 * of roughly `pageBytes`, by keyset on its primary key: memory holds one page whatever the size
 * of the table, and each page is an indexed range scan (no OFFSET). All pages run in the
 * caller's REPEATABLE READ transaction, so together they are one snapshot.
 */

export interface CopyClient {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** The protocol side of a node-postgres "submittable" (what the Client calls on it). */
interface PgConnection {
  query(text: string): void;
  sendCopyFail(message: string): void;
}

class CopyOut {
  readonly chunks: Uint8Array[] = [];
  bytes = 0;
  private settled = false;
  private settle!: { resolve: (v: Uint8Array[]) => void; reject: (e: Error) => void };
  readonly done = new Promise<Uint8Array[]>((resolve, reject) => {
    this.settle = { resolve, reject };
  });
  constructor(
    readonly text: string,
    /** More output than this fails the page (one enormous row would otherwise fill memory). */
    private readonly maxBytes: number,
  ) {}
  submit(connection: PgConnection) {
    connection.query(this.text);
  }
  handleCopyData(msg: { chunk: Uint8Array }) {
    // The parser reuses its buffer: keep a copy, not a view (Buffer#slice would be a view).
    if (this.settled) return;
    const copy = new Uint8Array(msg.chunk);
    this.chunks.push(copy);
    this.bytes += copy.length;
    if (this.bytes > this.maxBytes) {
      this.chunks.length = 0;
      this.handleError(
        new Error(`a COPY page passed ${this.maxBytes} bytes: rows too wide to export in pages`),
      );
    }
  }
  handleCopyInResponse(connection: PgConnection) {
    connection.sendCopyFail("not a COPY TO statement");
  }
  handleRowDescription() {}
  handleDataRow() {}
  handleCommandComplete() {}
  handleEmptyQuery() {}
  handlePortalSuspended() {}
  /**
   * At once: the client calls this without a ReadyForQuery after it (an ErrorResponse clears the
   * active query first; a lost connection only errors the queued queries).
   */
  handleError(err: Error) {
    if (this.settled) return;
    this.settled = true;
    this.settle.reject(err);
  }
  handleReadyForQuery() {
    if (this.settled) return;
    this.settled = true;
    this.settle.resolve(this.chunks);
  }
}

/** A page's hard ceiling, whatever the page size asked for. */
export const MAX_PAGE_BYTES = 64 << 20;

/** Runs one `COPY (...) TO STDOUT` and returns its output's chunks. */
export async function copyOut(
  client: CopyClient,
  text: string,
  maxBytes = MAX_PAGE_BYTES,
): Promise<Uint8Array[]> {
  const q = new CopyOut(text, maxBytes);
  (client as unknown as { query(q: unknown): void }).query(q);
  return q.done;
}

export interface TableSpec {
  schema: string;
  table: string;
  /** Columns exported, in order (generated columns left out: COPY FROM cannot write them). */
  columns: string[];
  primaryKey: string[];
  /** SQL types of the primary key columns (for the keyset literals). */
  primaryKeyTypes: string[];
}

export const qi = (name: string) => `"${name.replace(/"/g, '""')}"`;
export const qualified = (t: Pick<TableSpec, "schema" | "table">) => `${qi(t.schema)}.${qi(t.table)}`;
/** A string literal (standard_conforming_strings is on in the export's session). */
const literal = (v: string) => `'${v.replace(/'/g, "''")}'`;

const COLLATABLE = /^(text|citext|name|character varying(\(\d+\))?|character(\(\d+\))?)$/;
const JSON_TYPE = /^jsonb?$/;

/**
 * A key column as it is ordered: text in the "C" collation and JSON by its text, so the order
 * (and with it the checksum) is the same on a target whose default collation or ICU/libc version
 * differs from the source's. Other key types (uuid, integers, timestamps, enums) order alike
 * everywhere.
 */
function keyExpr(column: string, type: string): string {
  if (JSON_TYPE.test(type)) return `${qi(column)}::text COLLATE "C"`;
  if (COLLATABLE.test(type)) return `${qi(column)} COLLATE "C"`;
  return qi(column);
}

function keyLiteral(value: string, type: string): string {
  if (JSON_TYPE.test(type)) return `${literal(value)}::${type}::text COLLATE "C"`;
  if (COLLATABLE.test(type)) return `${literal(value)} COLLATE "C"`;
  return `${literal(value)}::${type}`;
}

/** The SELECT both the export and the restore's verification run: same columns, same order. */
export function orderedSelect(t: TableSpec, after?: string[], limit?: number): string {
  const cols = t.columns.map(qi).join(", ");
  const key = t.primaryKey.map((c, i) => keyExpr(c, t.primaryKeyTypes[i]!)).join(", ");
  const where = after
    ? ` WHERE (${key}) > (${after.map((v, i) => keyLiteral(v, t.primaryKeyTypes[i]!)).join(", ")})`
    : "";
  return `SELECT ${cols} FROM ${qualified(t)}${where} ORDER BY ${key}${limit ? ` LIMIT ${limit}` : ""}`;
}

const NEWLINE = 0x0a;

/** Undoes COPY's text-format escaping of one field. */
export function unescapeCopyField(field: string): string | null {
  if (field === "\\N") return null;
  return field.replace(/\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))/g, (_, oct, hex, ch) => {
    if (oct) return String.fromCharCode(Number.parseInt(oct, 8));
    if (hex) return String.fromCharCode(Number.parseInt(hex, 16));
    return ({ b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" } as Record<string, string>)[ch] ?? ch;
  });
}

/** The last line of a page (the chunks end with a newline), decoded. */
function lastLine(chunks: Uint8Array[]): string {
  const parts: Uint8Array[] = [];
  for (let i = chunks.length - 1; i >= 0; i--) {
    const c = chunks[i]!;
    const end = i === chunks.length - 1 ? c.length - 1 : c.length; // drop the final newline
    const nl = c.lastIndexOf(NEWLINE, end - 1);
    if (nl >= 0) {
      parts.unshift(c.subarray(nl + 1, end));
      break;
    }
    parts.unshift(c.subarray(0, end));
  }
  const line = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    line.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(line);
}

export function countRows(chunk: Uint8Array): number {
  let n = 0;
  for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

/**
 * One table's COPY text output, in primary-key order, page by page. Page sizes adapt so a page
 * holds about `pageBytes` (at least one row).
 */
export async function* copyTable(
  client: CopyClient,
  t: TableSpec,
  pageBytes = 4 << 20,
): AsyncGenerator<Uint8Array[]> {
  if (!t.primaryKey.length)
    throw new Error(`${qualified(t)} has no primary key: it cannot be exported in pages`);
  const pkAt = t.primaryKey.map((c) => t.columns.indexOf(c));
  if (pkAt.some((i) => i < 0)) throw new Error(`${qualified(t)}: a primary key column is generated`);
  // Small first, then at most doubling: a run of wide rows after narrow ones cannot make one
  // page many times pageBytes (and MAX_PAGE_BYTES stops a page that still would).
  let limit = 100;
  let after: string[] | undefined;
  for (;;) {
    const chunks = await copyOut(client, `COPY (${orderedSelect(t, after, limit)}) TO STDOUT`);
    const bytes = chunks.reduce((n, c) => n + c.length, 0);
    if (bytes === 0) return;
    const rows = chunks.reduce((n, c) => n + countRows(c), 0);
    yield chunks;
    if (rows < limit) return;
    const fields = lastLine(chunks).split("\t");
    after = pkAt.map((i) => {
      const v = unescapeCopyField(fields[i] ?? "\\N");
      if (v === null) throw new Error(`${qualified(t)}: a primary key value is NULL`);
      return v;
    });
    limit = Math.max(1, Math.min(100_000, limit * 2, Math.round((limit * pageBytes) / bytes)));
  }
}

/**
 * The tables an export holds: every table (partitioned parents, not their partitions) outside the
 * system schemas but private.chaves_identidade (keys: the restore's migrations install the
 * worker's) and ops._migrations (the ledger the restore's migrate writes). The rest of `private`
 * is data (the email, CPF and agenda keys, the search index) and goes too. Parents before children
 * (foreign keys), so the restore can load them in this order. `hidden` flags a table whose
 * forced RLS has no SELECT policy for the exporting role at all: its rows would silently not be
 * exported, so the export refuses it.
 */
export const TABLES_SQL = `
WITH t AS (
  SELECT c.oid, n.nspname AS schema, c.relname AS "table",
         c.relrowsecurity AND c.relforcerowsecurity AND NOT EXISTS (
           SELECT 1 FROM pg_policy p
            WHERE p.polrelid = c.oid AND p.polcmd IN ('r', '*') AND p.polpermissive
              AND (p.polroles @> ARRAY[0::oid] OR p.polroles @> ARRAY[(SELECT oid FROM pg_roles WHERE rolname = current_user)])
         ) AS hidden
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
     AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
     AND NOT (n.nspname = 'ops' AND c.relname = '_migrations')
     AND NOT (n.nspname = 'private' AND c.relname = 'chaves_identidade')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
)
SELECT t.schema, t."table", t.hidden,
       (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
         WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_constraint p
          CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         WHERE p.conrelid = t.oid AND p.contype = 'p') AS primary_key,
       (SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord) FROM pg_constraint p
          CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         WHERE p.conrelid = t.oid AND p.contype = 'p') AS primary_key_types,
       (SELECT coalesce(array_agg(DISTINCT rn.nspname || '.' || r.relname), '{}') FROM pg_constraint f
          JOIN pg_class r ON r.oid = f.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
         WHERE f.conrelid = t.oid AND f.contype = 'f' AND f.confrelid <> t.oid) AS references
  FROM t ORDER BY 1, 2`;

/** TABLES_SQL's rows as specs, referenced tables first (ties by name). */
export function tableSpecs(rows: Record<string, unknown>[]): TableSpec[] {
  const specs = new Map<string, TableSpec & { refs: string[] }>();
  for (const r of rows) {
    if (r.hidden === true || r.hidden === "t")
      throw new Error(
        `${r.schema}.${r.table} forces row level security with no SELECT policy for the exporting role: its rows would be left out`,
      );
    const s = {
      schema: String(r.schema),
      table: String(r.table),
      columns: pgArray(r.columns),
      primaryKey: pgArray(r.primary_key),
      primaryKeyTypes: pgArray(r.primary_key_types),
      refs: pgArray(r.references),
    };
    specs.set(`${s.schema}.${s.table}`, s);
  }
  const ordered: TableSpec[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string) => {
    const s = specs.get(name);
    if (!s || state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw new Error(`foreign keys form a cycle through ${name}`);
    state.set(name, "visiting");
    for (const r of s.refs) visit(r);
    state.set(name, "done");
    const { refs: _, ...spec } = s;
    ordered.push(spec);
  };
  for (const name of [...specs.keys()].sort()) visit(name);
  return ordered;
}

/** A text[] column: the driver gives an array; over the HTTP path it may be the literal. */
function pgArray(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (v === null || v === undefined) return [];
  const s = String(v);
  if (s === "{}") return [];
  return s
    .slice(1, -1)
    .split(",")
    .map((x) => x.replace(/^"|"$/g, ""));
}
