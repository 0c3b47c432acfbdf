import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { LOCAL } from "../config";
import { QSTASH_DEV_CREDENTIALS } from "./credentials";
import { QStashEngine } from "./engine";
import { ScheduleStore } from "./schedules";
import { createHandler } from "./server";

export { QSTASH_DEV_CREDENTIALS } from "./credentials";

export interface QStashOptions {
  /** Default LOCAL.ports.qstash (8080, what @upstash/qstash's dev mode expects); tests pass 0. */
  port?: number;
  hostname?: string;
  token?: string;
  /** Deliveries are signed with this key (default: the dev credentials' current key). */
  currentSigningKey?: string;
  /** Served by GET /v2/keys; never signs (default: the dev credentials' next key). */
  nextSigningKey?: string;
  /** Wait before the first retry; each next retry waits twice as long (capped at a day).
   * Default 12 s, about QStash's first retry (it grows by e^2.5 per retry, we by 2). */
  retryBaseDelayMs?: number;
  /** How often due messages and schedules are looked at (default 100 ms). */
  tickMs?: number;
  log?: (line: string) => void;
  /** The clock for delays, retries and schedules (not for JWT timestamps, see `signatureNow`).
   * Tests pass a movable clock and call `tick()`. */
  now?: () => number;
  /** The wall clock for the Upstash-Signature JWT's iat/nbf/exp (default Date.now). Only tests
   * that want a signature dated in the past (an expired one) change it. */
  signatureNow?: () => number;
}

export interface QStashEmulator {
  url: string;
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
  close(): Promise<void>;
  /** Resolves when no message is pending delivery (for tests); rejects after timeoutMs (10 s). */
  idle(timeoutMs?: number): Promise<void>;
  /** Fires the schedules due by `now()` and starts due deliveries, without waiting for the timer. */
  tick(): Promise<void>;
}

export async function startQStash(opts: QStashOptions = {}): Promise<QStashEmulator> {
  const token = opts.token ?? QSTASH_DEV_CREDENTIALS.token;
  const currentSigningKey = opts.currentSigningKey ?? QSTASH_DEV_CREDENTIALS.currentSigningKey;
  const nextSigningKey = opts.nextSigningKey ?? QSTASH_DEV_CREDENTIALS.nextSigningKey;
  const engine = new QStashEngine({
    currentSigningKey,
    retryBaseDelayMs: opts.retryBaseDelayMs ?? 12_000,
    now: opts.now ?? Date.now,
    signatureNow: opts.signatureNow ?? Date.now,
    log: opts.log ?? (() => {}),
  });
  const schedules = new ScheduleStore(engine);
  const tick = () => {
    schedules.fireDue();
    engine.pump();
  };

  const server = createServer(createHandler({ engine, schedules, token, currentSigningKey, nextSigningKey }));
  const hostname = opts.hostname ?? LOCAL.host;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? LOCAL.ports.qstash, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const interval = setInterval(tick, opts.tickMs ?? 100);
  interval.unref();
  const { port } = server.address() as AddressInfo;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;

  return {
    url: `http://${host}:${port}`,
    token,
    currentSigningKey,
    nextSigningKey,
    idle: (timeoutMs = 10_000) => engine.idle(timeoutMs),
    tick: async () => tick(),
    close: async () => {
      clearInterval(interval);
      engine.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
