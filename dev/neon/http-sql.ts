/**
 * POST /sql — Neon's SQL-over-HTTP API as @neondatabase/serverless 1.2.0 speaks it.
 *
 * Every query goes through the extended protocol with text results, and values are returned as
 * Postgres text output: the driver parses them itself from each field's dataTypeID. A batch is one
 * transaction: BEGIN [ISOLATION LEVEL ...] [READ ONLY] [DEFERRABLE], the statements, COMMIT (which
 * Postgres turns into ROLLBACK if a statement failed) — sent to the backend as one write.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BackendRequestError } from "./backend";
import type { EndpointHosts } from "./hosts";
import {
  type DecodedSegment,
  decodeSegments,
  extendedQuery,
  type FieldDescription,
  HTTP_COPY_FAIL,
  type Param,
  type PgErrorFields,
  type QueryResult,
  queryMessage,
  SYNC,
} from "./protocol";

/**
 * CORS headers for a browser request from `origin`, which the server has already allowed (see
 * origin-check.ts): the origin is echoed, never "*", so no other page may read the answers.
 */
export function corsHeaders(origin: string): Record<string, string> {
  return { ...CORS_BASE, "Access-Control-Allow-Origin": origin };
}

const CORS_BASE: Record<string, string> = {
  "Access-Control-Allow-Methods": "POST, OPTIONS",
  "Access-Control-Allow-Headers":
    "Authorization, Content-Type, Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, Neon-Pool-Opt-In, Neon-Batch-Read-Only, Neon-Batch-Isolation-Level, Neon-Batch-Deferrable",
  "Access-Control-Expose-Headers": "*",
  "Access-Control-Max-Age": "86400",
  Vary: "Origin",
};

const isolationLevels: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

/** A client mistake answered as a 400 NeonDbError (message only, like Neon's own). */
class BadRequest extends Error {}

const MAX_BODY = 10 * 1024 * 1024; // Neon's request limit

/** After each Execute: CopyFail (ignored unless the statement was COPY FROM STDIN), see protocol.ts. */
const SINGLE_TAIL = Buffer.concat([HTTP_COPY_FAIL, SYNC]);

const jsonHeaders = { "Content-Type": "application/json" };

/**
 * CORS headers only for browser requests (they carry an Origin, already allowed): fewer headers
 * for fetch() to parse.
 */
function sendJson(res: ServerResponse, status: number, body: string, origin: string | undefined): void {
  res.writeHead(status, {
    ...(origin ? { ...jsonHeaders, ...corsHeaders(origin) } : jsonHeaders),
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

function errorBody(error: PgErrorFields): string {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(error)) if (v !== undefined) out[k] = v;
  return JSON.stringify(out);
}

function toParam(value: unknown): Param {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

interface QueryIn {
  query: string;
  params: Param[];
}

function readQuery(value: unknown): QueryIn {
  const q = value as { query?: unknown; params?: unknown } | null;
  if (!q || typeof q.query !== "string") throw new BadRequest("request body must contain a query string");
  if (q.params !== undefined && !Array.isArray(q.params)) throw new BadRequest("params must be an array");
  return { query: q.query, params: ((q.params as unknown[] | undefined) ?? []).map(toParam) };
}

/** JSON of a (shared, frozen) field list, made once per distinct RowDescription. */
const fieldsJsonCache = new WeakMap<readonly FieldDescription[], string>();

function fieldsJson(fields: readonly FieldDescription[]): string {
  let json = fieldsJsonCache.get(fields);
  if (json === undefined) {
    json = JSON.stringify(fields);
    fieldsJsonCache.set(fields, json);
  }
  return json;
}

/**
 * A result in Neon's JSON shape; rows are arrays (what the driver asks for) or objects. Built as a
 * string directly (same keys, same order as JSON.stringify of {command, rowCount, rows, fields,
 * rowAsArray}) so the field list's JSON is reused and no wrapper object is made.
 */
function resultJson(r: QueryResult, arrayMode: boolean): string {
  let rows: unknown = r.rows;
  if (!arrayMode) {
    rows = r.rows.map((row) => {
      const o: Record<string, string | null> = {};
      r.fields.forEach((f, i) => {
        o[f.name] = row[i] ?? null;
      });
      return o;
    });
  }
  return `{"command":${JSON.stringify(r.command)},"rowCount":${JSON.stringify(r.rowCount)},"rows":${JSON.stringify(rows)},"fields":${fieldsJson(r.fields)},"rowAsArray":${arrayMode}}`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      // Past the limit the rest is read and dropped rather than the socket destroyed: destroying it
      // would reset the connection and the client would never see its 400.
      if (size > MAX_BODY) {
        chunks.length = 0;
        reject(new BadRequest("request body too large"));
      } else chunks.push(c);
    });
    req.on("end", () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")),
    );
    req.on("error", reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The endpoint is the one the connection string's host names (hosts.ts), as Neon routes by it;
 * an unknown one fails as a wrong password does.
 */
export function createSqlHandler(
  hosts: EndpointHosts,
  log: (line: string) => void,
  /** Told which endpoint each authenticated request is for (the endpoint's per-endpoint counts). */
  served?: (endpointId: string) => void,
) {
  return async function handleSql(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cors = req.headers.origin; // allowed by the server before the request got here
    try {
      const connectionString = header(req, "neon-connection-string");
      if (!connectionString) throw new BadRequest("missing Neon-Connection-String header");
      const body = await readBody(req);
      const who = hosts.fromConnectionString(connectionString);
      if (!who.ok) return sendJson(res, 400, errorBody(who.error), cors);
      served?.(who.route.endpointId);
      const { backend } = who.route;
      // The driver always asks for arrays; objects are for other clients of the HTTP API.
      const arrayMode = header(req, "neon-array-mode") === "true";
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        throw new BadRequest("request body is not valid JSON");
      }
      const queries = (parsed as { queries?: unknown } | null)?.queries;
      if (queries === undefined) {
        const q = readQuery(parsed);
        const out = await backend.run(who.role, extendedQuery(q.query, q.params, SINGLE_TAIL), 1);
        const seg = decodeSegments(out)[0];
        if (!seg) throw new Error("no reply from backend");
        if (seg.error) return sendJson(res, 400, errorBody(seg.error), cors);
        const result = seg.results[0];
        if (!result) throw new Error("no result from backend");
        return sendJson(res, 200, resultJson(result, arrayMode), cors);
      }
      if (!Array.isArray(queries)) throw new BadRequest("queries must be an array");
      const list = queries.map(readQuery);
      const begin = transactionStart(req);
      const parts = [queryMessage(begin)];
      for (const q of list) parts.push(extendedQuery(q.query, q.params, HTTP_COPY_FAIL));
      parts.push(SYNC, queryMessage("COMMIT"));
      const segments = decodeSegments(await backend.run(who.role, Buffer.concat(parts), 3));
      const failure = batchError(segments);
      if (failure) return sendJson(res, 400, errorBody(failure), cors);
      const results = segments[1]!.results;
      if (results.length !== list.length) throw new Error("batch result count mismatch");
      return sendJson(
        res,
        200,
        `{"results":[${results.map((r) => resultJson(r, arrayMode)).join(",")}]}`,
        cors,
      );
    } catch (err) {
      if (err instanceof BadRequest)
        return sendJson(res, 400, JSON.stringify({ message: err.message }), cors);
      if (err instanceof BackendRequestError) {
        if (!res.headersSent) sendJson(res, 400, errorBody(err.fields), cors);
        return;
      }
      log(`neon endpoint: /sql failed: ${(err as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, JSON.stringify({ message: "internal error" }), cors);
    }
  };
}

function transactionStart(req: IncomingMessage): string {
  let sql = "BEGIN";
  const level = header(req, "neon-batch-isolation-level");
  if (level !== undefined) {
    const mapped = isolationLevels[level];
    if (!mapped) throw new BadRequest(`invalid Neon-Batch-Isolation-Level: ${level}`);
    sql += ` ISOLATION LEVEL ${mapped}`;
  }
  const readOnly = header(req, "neon-batch-read-only");
  if (readOnly === "true") sql += " READ ONLY";
  else if (readOnly === "false") sql += " READ WRITE";
  const deferrable = header(req, "neon-batch-deferrable");
  if (deferrable === "true") sql += " DEFERRABLE";
  else if (deferrable === "false") sql += " NOT DEFERRABLE";
  return sql;
}

/** The first error of BEGIN, the statements, or COMMIT (a serialization failure can surface there). */
function batchError(segments: DecodedSegment[]): PgErrorFields | null {
  if (segments.length < 3) return { message: "unexpected reply from backend" };
  for (const seg of segments) if (seg.error) return seg.error;
  return null;
}
