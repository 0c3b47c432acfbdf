/**
 * The reply model shared by both backends, and its rendering as Upstash REST JSON.
 *
 * Redis has five RESP2 reply kinds; JSON can only tell numbers from strings, so the kinds are kept
 * apart here until the last moment: Upstash base64-encodes bulk strings (the client's data) when
 * asked with `Upstash-Encoding: base64`, leaves integers alone, and returns the status "OK" as is
 * (@upstash/redis special-cases exactly that string when decoding).
 */

/** A RESP simple string (+OK, +PONG, +string from TYPE). */
export class Status {
  constructor(readonly value: string) {}
}

/** A RESP error reply (-ERR ...). Thrown by the memory store, returned by the RESP client. */
export class RedisError extends Error {}

export type Reply = null | number | string | Buffer | Status | RedisError | Reply[];

/** Upstash answers one command as `{result}` or `{error}`. */
export type RestAnswer = { result: unknown } | { error: string };

export function toRestAnswer(reply: Reply, base64: boolean): RestAnswer {
  if (reply instanceof RedisError) return { error: reply.message };
  return { result: toJson(reply, base64) };
}

function toJson(reply: Reply, base64: boolean): unknown {
  if (reply === null || typeof reply === "number") return reply;
  if (reply instanceof Status) {
    if (!base64 || reply.value === "OK") return reply.value;
    return Buffer.from(reply.value, "utf8").toString("base64");
  }
  if (reply instanceof RedisError) return reply.message; // an error nested in an array (EXEC, Lua)
  if (Array.isArray(reply)) return reply.map((r) => toJson(r, base64));
  if (typeof reply === "string") return base64 ? Buffer.from(reply, "utf8").toString("base64") : reply;
  return base64 ? reply.toString("base64") : reply.toString("utf8");
}
