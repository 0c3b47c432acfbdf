/**
 * The statement check is PGlite only, and only its first line of defence (FUNCTION_CALL_REFUSAL
 * serves both backends). PGlite's one session has the superuser as its authenticated user; each
 * unit of client work runs under SET SESSION AUTHORIZATION <client role>, so PostgreSQL itself
 * refuses SET ROLE postgres (the session user is the client's role), but it lets that session
 * set session_authorization back to any role, the superuser included.
 * So statements that could change the session's identity (SET/RESET SESSION AUTHORIZATION,
 * set_config('session_authorization'|'role', ...), SET/RESET ROLE, DISCARD ALL) are refused with
 * 42501 before they run, and FunctionCall ('F') messages — a function called by OID, past any
 * text check — with 0A000 (no Neon client sends them).
 *
 * The check reads the SQL text conservatively (case-insensitive, comments and whitespace ignored;
 * once with regard to string literals, each dollar-quoted body lexed on its own, and once without)
 * and refuses when in doubt, e.g. set_config with a GUC name that is not a plain literal. It cannot
 * see SQL assembled at run time (EXECUTE in a DO block or function); what stops that from lasting
 * is the identity check after every unit of work (identity-check.ts), not this file. On real
 * PostgreSQL none of this applies: the server refuses (the session user is the client's role).
 */
import { cstring, message, queryMessage, quoteLiteral } from "./protocol";

const suspicious = /role|authorization|set_config|discard|u&"/i;

/**
 * SQL text with comments removed, string/identifier/dollar-quote aware. A dollar-quoted body is
 * lexed on its own and kept between " $$ " marks (function bodies hold statements), so nothing in
 * it — an unclosed comment, a quote — can hide the code after its closing delimiter.
 */
function lexed(sql: string): string {
  let out = "";
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      const eol = sql.indexOf("\n", i);
      i = eol < 0 ? n : eol;
      out += " ";
    } else if (c === "/" && next === "*") {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
      out += " ";
    } else if (c === "'" || c === '"') {
      const escapes = c === "'" && /[eE]/.test(sql[i - 1] ?? "") && !/[\w$]/.test(sql[i - 2] ?? "");
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === "\\") j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (c === "$" && !/[\w$]/.test(sql[i - 1] ?? "")) {
      const m = /^\$([A-Za-z_][\w]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        const close = sql.indexOf(m[0], i + m[0].length);
        const bodyEnd = close < 0 ? n : close;
        out += ` $$ ${lexed(sql.slice(i + m[0].length, bodyEnd))} $$ `;
        i = close < 0 ? n : close + m[0].length;
      } else {
        out += c;
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Comments removed without regard to strings (so a comment marker inside a string cannot hide code). */
function naive(sql: string): string {
  return sql.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/--[^\n]*/g, " ");
}

/** Between two words of SET: whitespace, or nothing before a quoted identifier (SET"role"). */
const gap = String.raw`(?:\s+|\s*(?="))`;
const setRole = new RegExp(
  String.raw`\b(re)?set${gap}(?:(?:session|local)${gap})?("?role"?|"?session_authorization"?|session\s+authorization|u&")(?![\w$])`,
  "g",
);
/** Just before "set": an UPDATE's SET clause (a column named role), not the SET command. */
const updateSet =
  /\bupdate\s+(?:only\s+)?(?:(?:"[^"]*"|[\w$]+)\.)*(?:"[^"]*"|[\w$]+)\s*\*?(?:\s+(?:as\s+)?(?:"[^"]*"|[\w$]+))?\s*$|\bupdate\s*$/;
const setConfig = /(?:\bset_config|"set_config")\s*\(\s*/g;
const plainName = /^'((?:[^']|'')*)'\s*,/;

function check(text: string): string | null {
  const t = text.toLowerCase().replace(/\s+/g, " ");
  for (const m of t.matchAll(setRole)) {
    const reset = m[1] !== undefined;
    const what = m[2]!;
    if (!reset && /^"?(role|session_authorization)"?$/.test(what) && updateSet.test(t.slice(0, m.index)))
      continue;
    if (what.includes("role")) {
      if (reset) return "permission denied to reset role";
      const target = /^\s*(?:to|=)?\s*['"]?([\w$]+)/.exec(t.slice(m.index! + m[0].length))?.[1];
      return `permission denied to set role "${target && target !== "to" ? target : "postgres"}"`;
    }
    return "permission denied to set session authorization";
  }
  if (/\bdiscard\s+all\b/.test(t))
    return "permission denied to set session authorization (DISCARD ALL resets it)";
  for (const m of t.matchAll(setConfig)) {
    const name = plainName
      .exec(t.slice(m.index! + m[0].length))?.[1]
      ?.replaceAll("''", "'")
      .trim();
    if (name === undefined) return 'permission denied to set parameter "role"';
    if (name === "role" || name === "session_authorization")
      return `permission denied to set parameter "${name}"`;
  }
  if (/u&"/.test(t) && /\b(set|set_config)\b/.test(t)) return "permission denied to set role";
  return null;
}

/** The error message if `sql` could change the session's role or authorization, else null. */
export function roleChangeIn(sql: string): string | null {
  if (!suspicious.test(sql)) return null;
  return check(lexed(sql)) ?? check(naive(sql));
}

/** SQL that fails in the backend itself with `code` (so transactions abort as usual). */
function refusal(message: string, code = "42501"): string {
  return `DO $neon_refuse$ BEGIN RAISE EXCEPTION USING ERRCODE = '${code}', MESSAGE = ${quoteLiteral(message)}; END $neon_refuse$`;
}

/**
 * What a FunctionCall ('F') message is replaced with, on both backends: a Query that fails with
 * 0A000. Like 'F' it is answered with one ReadyForQuery, and the backend skips it like 'F' after
 * an extended-protocol error. Neon's clients never send 'F'; refusing it means no function runs
 * by OID, unseen by the statement check.
 */
export const FUNCTION_CALL_REFUSAL = queryMessage(
  refusal(
    "FunctionCall messages are not supported by the local Neon endpoint: call the function in a query (SELECT f(...))",
    "0A000",
  ),
);

/**
 * Frontend messages with every Query/Parse whose SQL `check` objects to replaced by one that raises
 * its error, and every FunctionCall by FUNCTION_CALL_REFUSAL. A replaced Parse declares as many
 * text parameters as the original SQL references, so the client's Bind still matches. Returns
 * `buf` itself when nothing is replaced.
 */
export function guardStatements(buf: Buffer, check: (sql: string) => string | null, code = "42501"): Buffer {
  let o = 0;
  let parts: Buffer[] | null = null;
  let copied = 0;
  while (o + 5 <= buf.length) {
    const type = buf[o]!;
    const end = o + 1 + buf.readInt32BE(o + 1);
    if (end > buf.length) break;
    if (type === 0x46) {
      parts ??= [];
      parts.push(buf.subarray(copied, o), FUNCTION_CALL_REFUSAL);
      copied = end;
    } else if (type === 0x51 || type === 0x50) {
      let p = o + 5;
      let name = "";
      if (type === 0x50) {
        const z = buf.indexOf(0, p);
        name = buf.toString("utf8", p, z);
        p = z + 1;
      }
      const z = buf.indexOf(0, p);
      const sql = buf.toString("utf8", p, z);
      const problem = check(sql);
      if (problem) {
        parts ??= [];
        parts.push(buf.subarray(copied, o));
        if (type === 0x51) parts.push(queryMessage(refusal(problem, code)));
        else {
          const declared = buf.readInt16BE(z + 1);
          let params = declared;
          for (const m of sql.matchAll(/\$(\d+)/g)) params = Math.max(params, Number(m[1]));
          const types = Buffer.allocUnsafe(2 + 4 * params);
          types.writeInt16BE(params, 0);
          for (let i = 0; i < params; i++) {
            const declaredType = i < declared ? buf.readInt32BE(z + 3 + 4 * i) : 0;
            types.writeInt32BE(declaredType || 25, 2 + 4 * i); // unused parameters need a type
          }
          parts.push(message("P", Buffer.concat([cstring(name), cstring(refusal(problem, code)), types])));
        }
        copied = end;
      }
    }
    o = end;
  }
  if (!parts) return buf;
  parts.push(buf.subarray(copied));
  return Buffer.concat(parts);
}

/** guardStatements with the role check (PGlite's first line of defence, see the header). */
export function guardRoleChanges(buf: Buffer): Buffer {
  return guardStatements(buf, roleChangeIn);
}

const readOnlySuspicious = /read_only|read\s+write|reset\s+all|set_config|u&"/i;

/**
 * Why `sql` could take a read-only endpoint's session out of read-only mode, else null: setting
 * (or resetting, or set_config-ing) transaction_read_only / default_transaction_read_only, a READ
 * WRITE transaction or session characteristic, RESET ALL. Read conservatively, like roleChangeIn;
 * SQL built at run time is out of its sight (see dev/neon-api/README.md).
 */
export function readOnlyChangeIn(sql: string): string | null {
  if (!readOnlySuspicious.test(sql)) return null;
  const refused = "cannot set transaction read-write mode during recovery";
  for (const text of [lexed(sql), naive(sql)]) {
    const t = text.toLowerCase().replace(/\s+/g, " ");
    if (/read_only|read write|reset all|u&"/.test(t)) return refused;
    // set_config of a name that is not a plain literal could be anything (the app's own
    // set_config('app.identity', $1, true) is a plain literal).
    for (const m of t.matchAll(setConfig))
      if (plainName.exec(t.slice(m.index! + m[0].length)) === null) return refused;
  }
  return null;
}

/** The statements a read-only endpoint refuses (25006), on both backends. */
export function guardReadOnly(buf: Buffer): Buffer {
  return guardStatements(buf, readOnlyChangeIn, "25006");
}
