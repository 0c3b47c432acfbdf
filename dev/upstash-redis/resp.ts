/**
 * A small RESP2 client over node:net for the real-redis backend (no redis package may be
 * installed). Commands are pipelined: each connection keeps a FIFO of callbacks, and Redis answers
 * in order. A few shared connections carry ordinary traffic; MULTI/EXEC borrows a dedicated one so
 * no other request's command can land inside the transaction.
 */
import net from "node:net";
import { RedisError, type Reply, Status } from "./reply";

export type Arg = string | Buffer;

type Pending = { resolve: (r: Reply) => void; reject: (e: Error) => void };

const CRLF = Buffer.from("\r\n");

export function encodeCommand(args: Arg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? Buffer.from(a, "utf8") : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `pos`; undefined when the buffer does not yet hold all of it. */
export function parseReply(buf: Buffer, pos: number): { reply: Reply; end: number } | undefined {
  if (pos >= buf.length) return undefined;
  const eol = buf.indexOf(CRLF, pos);
  if (eol < 0) return undefined;
  const type = buf[pos];
  const line = buf.toString("utf8", pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case 43: // +
      return { reply: new Status(line), end: next };
    case 45: // -
      return { reply: new RedisError(line), end: next };
    case 58: // :
      return { reply: Number(line), end: next };
    case 36: {
      // $
      const len = Number(line);
      if (len < 0) return { reply: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { reply: buf.subarray(next, next + len), end: next + len + 2 };
    }
    case 42: {
      // *
      const n = Number(line);
      if (n < 0) return { reply: null, end: next };
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.reply);
        at = item.end;
      }
      return { reply: items, end: at };
    }
    default:
      throw new Error(`RESP protocol error: unexpected byte ${type}`);
  }
}

export class RespConnection {
  private readonly socket: net.Socket;
  private readonly pending: Pending[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  dead: Error | null = null;

  constructor(host: string, port: number, setup: Arg[][]) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on("data", (chunk) => this.onData(chunk));
    this.socket.on("error", (err) => this.fail(err));
    this.socket.on("close", () => this.fail(new Error("redis connection closed")));
    // Setup commands (AUTH, SELECT) go first; a failure there poisons the connection.
    for (const cmd of setup) {
      this.send([cmd]).then(
        ([r]) => {
          if (r instanceof RedisError) this.fail(new Error(`redis ${String(cmd[0])} failed: ${r.message}`));
        },
        () => {},
      );
    }
  }

  /** Sends commands in one write; resolves with their replies (errors as RedisError values). */
  send(commands: Arg[][]): Promise<Reply[]> {
    if (this.dead) return Promise.reject(this.dead);
    const replies = commands.map(
      () =>
        new Promise<Reply>((resolve, reject) => {
          this.pending.push({ resolve, reject });
        }),
    );
    this.socket.write(Buffer.concat(commands.map(encodeCommand)));
    return Promise.all(replies);
  }

  close(): void {
    this.dead ??= new Error("redis connection closed");
    this.socket.end();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let pos = 0;
    try {
      for (;;) {
        const parsed = parseReply(this.buffer, pos);
        if (!parsed) break;
        pos = parsed.end;
        this.pending.shift()?.resolve(parsed.reply);
      }
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
      return;
    }
    this.buffer = pos >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(pos);
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const p of this.pending.splice(0)) p.reject(err);
  }
}

/** A redis:// URL's connection details. */
export function parseRedisUrl(url: string): { host: string; port: number; setup: Arg[][]; db: number } {
  const u = new URL(url);
  const setup: Arg[][] = [];
  const password = decodeURIComponent(u.password);
  const user = decodeURIComponent(u.username);
  if (password) setup.push(user ? ["AUTH", user, password] : ["AUTH", password]);
  const db = Number(u.pathname.replace(/^\//, "") || "0");
  if (db) setup.push(["SELECT", String(db)]);
  return { host: u.hostname || "127.0.0.1", port: Number(u.port || 6379), setup, db };
}

export class RespClient {
  private readonly shared: RespConnection[] = [];
  private readonly idle: RespConnection[] = [];
  private next = 0;
  private readonly target: ReturnType<typeof parseRedisUrl>;

  constructor(
    url: string,
    private readonly poolSize = 4,
  ) {
    this.target = parseRedisUrl(url);
  }

  private connect(): RespConnection {
    const { host, port, setup } = this.target;
    return new RespConnection(host, port, setup);
  }

  /** Runs commands pipelined on one shared connection (not atomic). */
  async pipeline(commands: Arg[][]): Promise<Reply[]> {
    const i = this.next++ % this.poolSize;
    let conn = this.shared[i];
    if (!conn || conn.dead) {
      conn = this.connect();
      this.shared[i] = conn;
    }
    return conn.send(commands);
  }

  async command(args: Arg[]): Promise<Reply> {
    const [reply] = await this.pipeline([args]);
    return reply as Reply;
  }

  /** Lends a dedicated connection (for MULTI/EXEC); it returns to the idle list afterwards. */
  async exclusive<T>(fn: (conn: RespConnection) => Promise<T>): Promise<T> {
    let conn = this.idle.pop();
    while (conn?.dead) conn = this.idle.pop();
    conn ??= this.connect();
    try {
      return await fn(conn);
    } finally {
      if (!conn.dead && this.idle.length < this.poolSize) this.idle.push(conn);
      else conn.close();
    }
  }

  close(): void {
    for (const c of [...this.shared, ...this.idle]) c?.close();
    this.shared.length = 0;
    this.idle.length = 0;
  }
}
