/**
 * Local Upstash Redis: the REST API that @upstash/redis and @upstash/ratelimit speak, served over
 * a real redis-server (REDIS_URL) or an embedded in-memory store.
 *
 * Surface (Upstash's documented REST API):
 * - `POST /` with a JSON array body: one command.
 * - Path style: `GET|POST /set/key/value/EX/100` (URL-decoded segments); a POST body is the last
 *   argument.
 * - `POST /pipeline`: an array of commands, not atomic; 200 with one `{result}|{error}` each.
 * - `POST /multi-exec`: the same, atomically (MULTI/EXEC); a queue-time error (unknown command,
 *   wrong arity) discards the block: 400 `{"error":"EXECABORT ..."}`.
 * - Auth: `Authorization: Bearer <token>` or `?_token=`; otherwise 401 `{"error":"Unauthorized"}`.
 * - `Upstash-Encoding: base64`: bulk strings in results are base64 (nested arrays too), integers
 *   and the status "OK" are not. A command error is 400 `{"error": "<Redis' message>"}`.
 * - Every answer carries an `upstash-sync-token` header, which the client echoes back
 *   (read-your-writes); one store means every read already sees every write.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { LOCAL } from "../config";
import { type Backend, memoryBackend, redisBackend } from "./backend";
import { RedisError, toRestAnswer } from "./reply";

export interface UpstashRedisOptions {
  /** Default LOCAL.ports.redis; tests pass 0. */
  port?: number;
  hostname?: string;
  /** Default LOCAL.redisToken. */
  token?: string;
  /** A real redis-server, e.g. redis://127.0.0.1:6379/0; absent → embedded in-memory store. */
  redisUrl?: string;
  log?: (line: string) => void;
}

export interface UpstashRedisEmulator {
  url: string;
  token: string;
  backend: "redis" | "memory";
  close(): Promise<void>;
}

class BadRequest extends Error {}

/** JSON values → Redis arguments. The SDK sends strings; other JSON scalars are stringified as
 * Upstash does, so `["incrby","k",5]` from curl works too. */
function toArgs(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new BadRequest("ERR failed to parse command");
  return value.map((v) =>
    typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v),
  );
}

function toBatch(value: unknown): string[][] {
  if (!Array.isArray(value) || value.length === 0)
    throw new BadRequest("ERR failed to parse pipeline request");
  return value.map(toArgs);
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new BadRequest("ERR failed to parse command");
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function authorized(req: http.IncomingMessage, url: URL, token: string): boolean {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(.+)$/i.exec(header);
    return m?.[1]?.trim() === token;
  }
  return url.searchParams.get("_token") === token;
}

export async function startUpstashRedis(opts: UpstashRedisOptions = {}): Promise<UpstashRedisEmulator> {
  const token = opts.token ?? LOCAL.redisToken;
  const hostname = opts.hostname ?? LOCAL.host;
  const log = opts.log ?? (() => {});
  const backend: Backend = opts.redisUrl ? redisBackend(opts.redisUrl) : memoryBackend();
  if (opts.redisUrl) {
    // Fail at start, not on the first request, when the Redis server is unreachable.
    const pong = await backend.command(["PING"]).catch((e: Error) => new RedisError(e.message));
    if (pong instanceof RedisError) {
      await backend.close();
      throw new Error(`upstash-redis emulator: cannot reach Redis at ${opts.redisUrl}: ${pong.message}`);
    }
  }
  let syncToken = 0;

  const server = http.createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
        "upstash-sync-token": String(++syncToken),
      });
      res.end(text);
    };
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (!authorized(req, url, token)) return send(401, { error: "Unauthorized" });
      const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
      const body = req.method === "POST" || req.method === "PUT" ? await readBody(req) : "";
      const path = url.pathname.replace(/\/+$/, "");

      if (path === "/pipeline" || path === "/multi-exec") {
        if (req.method !== "POST") return send(405, { error: "Method Not Allowed" });
        const commands = toBatch(parseJson(body));
        const replies =
          path === "/pipeline" ? await backend.pipeline(commands) : await backend.multi(commands);
        if (replies instanceof RedisError) return send(400, { error: replies.message });
        return send(
          200,
          replies.map((r) => toRestAnswer(r, base64)),
        );
      }

      let args: string[];
      if (path === "") {
        if (req.method !== "POST") return send(400, { error: "ERR failed to parse command" });
        args = toArgs(parseJson(body));
      } else {
        args = path
          .split("/")
          .slice(1)
          .map((s) => decodeURIComponent(s));
        if (body !== "") args.push(body);
      }
      const answer = toRestAnswer(await backend.command(args), base64);
      return send("error" in answer ? 400 : 200, answer);
    } catch (e) {
      if (e instanceof BadRequest) return send(400, { error: e.message });
      log(`upstash-redis: ${(e as Error).stack ?? e}`);
      return send(500, { error: `ERR ${(e as Error).message}` });
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? LOCAL.ports.redis, hostname, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${hostname}:${port}`;
  log(`upstash-redis: ${url} (${backend.name}${opts.redisUrl ? ` ${opts.redisUrl}` : ""})`);

  return {
    url,
    token,
    backend: backend.name,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await backend.close();
    },
  };
}
