/**
 * Upstash accepts a script shebang flag that Redis does not: @upstash/ratelimit starts every
 * script with `#!lua flags=allow-key-locking`, and redis-server 7.0 refuses it ("ERR Unexpected
 * flag in script shebang"). Before a script reaches a real Redis we drop the flags Redis does not
 * know (allow-key-locking). That changes the script's SHA1, so we remember client SHA1 → Redis SHA1 and translate
 * EVALSHA / SCRIPT EXISTS, and answer SCRIPT LOAD with the SHA1 of the text the client sent: the
 * client never sees the difference, and EVALSHA keeps hitting Redis' script cache.
 */
import { createHash } from "node:crypto";
import { RedisError, type Reply } from "./reply";

/** Flags Upstash accepts and Redis does not: the only ones dropped. Any other flag reaches Redis,
 * which accepts its own and refuses the rest ("ERR Unexpected flag in script shebang: ..."), as the
 * embedded store does. */
const UPSTASH_ONLY_FLAGS = new Set(["allow-key-locking"]);

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

/** The script with unknown shebang flags removed; the same string when nothing changes. */
export function stripUnknownFlags(script: string): string {
  if (!script.startsWith("#!")) return script;
  const eol = script.indexOf("\n");
  const line = eol < 0 ? script : script.slice(0, eol);
  const m = /^(#!\S+)(.*?)\bflags=(\S*)(.*)$/.exec(line);
  if (!m) return script;
  const kept = m[3]!.split(",").filter((f) => !UPSTASH_ONLY_FLAGS.has(f));
  const rebuilt = `${m[1]}${m[2]}flags=${kept.join(",")}${m[4]}`;
  return eol < 0 ? rebuilt : rebuilt + script.slice(eol);
}

export class ScriptShaMap {
  private readonly toRedis = new Map<string, string>();

  /** Rewrites one command for Redis; `fixReply` maps Redis' reply back where the SHA1 shows. */
  rewrite(args: string[]): { args: string[]; fixReply?: (r: Reply) => Reply } {
    const name = (args[0] ?? "").toLowerCase();
    if ((name === "eval" || name === "eval_ro") && args[1] !== undefined) {
      const script = stripUnknownFlags(args[1]);
      if (script !== args[1]) this.toRedis.set(sha1(args[1]), sha1(script));
      return { args: [args[0]!, script, ...args.slice(2)] };
    }
    if ((name === "evalsha" || name === "evalsha_ro") && args[1] !== undefined) {
      const mapped = this.toRedis.get(args[1].toLowerCase());
      return { args: mapped ? [args[0]!, mapped, ...args.slice(2)] : args };
    }
    if (name === "script" && args[1] !== undefined) {
      const sub = args[1].toLowerCase();
      if (sub === "load" && args.length === 3) {
        const original = sha1(args[2]!);
        const script = stripUnknownFlags(args[2]!);
        if (script === args[2]) return { args };
        this.toRedis.set(original, sha1(script));
        return {
          args: [args[0]!, args[1], script],
          fixReply: (r) => (r instanceof RedisError ? r : original),
        };
      }
      if (sub === "exists") {
        return {
          args: [args[0]!, args[1], ...args.slice(2).map((s) => this.toRedis.get(s.toLowerCase()) ?? s)],
        };
      }
    }
    return { args };
  }
}
