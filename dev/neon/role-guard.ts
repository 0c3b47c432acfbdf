/**
 * PGlite only: its one session's session user is the superuser, and each unit of client work runs
 * under SET ROLE <client role>. A client that changes the role itself (RESET ROLE, SET ROLE
 * postgres, SET SESSION AUTHORIZATION, set_config('role', ...), DISCARD ALL) would escape to the
 * superuser, so such statements are refused — the owner/app roles never need them. The check reads
 * the SQL text conservatively (case-insensitive, comments and whitespace ignored, with and without
 * regard to string literals) and refuses when in doubt, e.g. set_config with a GUC name that is not
 * a plain literal. It is not a security boundary: SQL that builds the statement at run time (EXECUTE
 * of a concatenated string in a DO block or function) is not caught. On real Postgres none of this
 * applies: the server itself refuses (the session user is the client's role).
 */
import { cstring, message, queryMessage, quoteLiteral } from "./protocol";

const suspicious = /role|authorization|set_config|discard|u&"/i;

/** SQL text with comments removed, string/identifier/dollar-quote aware (dollar quotes kept as "$$"). */
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
      // A dollar-quote delimiter: the body is lexed as code too (function bodies hold statements).
      const m = /^\$([A-Za-z_][\w]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        out += " $$ ";
        i += m[0].length;
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

const setRole =
  /\b(re)?set\s+(?:(?:session|local)\s+)?("?role"?|"?session_authorization"?|session\s+authorization|u&")(?![\w$])/g;
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

/** SQL that fails in the backend itself with Postgres' permission error (so transactions abort as usual). */
function refusal(message: string): string {
  return `DO $neon_refuse$ BEGIN RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = ${quoteLiteral(message)}; END $neon_refuse$`;
}

/**
 * Frontend messages with every Query/Parse whose SQL could change the role replaced by one that
 * raises 42501. A replaced Parse declares as many text parameters as the original SQL references,
 * so the client's Bind still matches. Returns `buf` itself when nothing is replaced.
 */
export function guardRoleChanges(buf: Buffer): Buffer {
  let o = 0;
  let parts: Buffer[] | null = null;
  let copied = 0;
  while (o + 5 <= buf.length) {
    const type = buf[o]!;
    const end = o + 1 + buf.readInt32BE(o + 1);
    if (end > buf.length) break;
    if (type === 0x51 || type === 0x50) {
      let p = o + 5;
      let name = "";
      if (type === 0x50) {
        const z = buf.indexOf(0, p);
        name = buf.toString("utf8", p, z);
        p = z + 1;
      }
      const z = buf.indexOf(0, p);
      const sql = buf.toString("utf8", p, z);
      const problem = roleChangeIn(sql);
      if (problem) {
        parts ??= [];
        parts.push(buf.subarray(copied, o));
        if (type === 0x51) parts.push(queryMessage(refusal(problem)));
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
          parts.push(message("P", Buffer.concat([cstring(name), cstring(refusal(problem)), types])));
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
