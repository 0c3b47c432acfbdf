/**
 * The two emulators a differential suite compares: the embedded store, and the same REST surface
 * over a real redis-server at `redisUrl` (a test db of its own: testRedisUrl(REDIS_TEST_DB.x)).
 */
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis/index";

export interface EmulatorPair {
  memory: UpstashRedisEmulator;
  real: UpstashRedisEmulator;
  close(): Promise<void>;
}

export async function startEmulatorPair(redisUrl: string): Promise<EmulatorPair> {
  const memory = await startUpstashRedis({ port: 0, hostname: "127.0.0.1" });
  const real = await startUpstashRedis({ port: 0, hostname: "127.0.0.1", redisUrl });
  return {
    memory,
    real,
    async close() {
      await memory.close();
      await real.close();
    },
  };
}

/** One raw REST call: status and parsed body, with or without Upstash-Encoding: base64. */
export async function ask(emu: UpstashRedisEmulator, path: string, body: unknown, base64: boolean) {
  const res = await fetch(`${emu.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${emu.token}`, ...(base64 ? { "upstash-encoding": "base64" } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
