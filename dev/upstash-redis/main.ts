/**
 * CLI: `tsx dev/upstash-redis/main.ts`. Env: PORT, REDIS_URL (a real redis-server; absent → the
 * in-memory store), UPSTASH_REDIS_REST_TOKEN. Prints the URL to point UPSTASH_REDIS_REST_URL at.
 */
import { startUpstashRedis } from "./index";

const emulator = await startUpstashRedis({
  port: process.env.PORT ? Number(process.env.PORT) : undefined,
  redisUrl: process.env.REDIS_URL || undefined,
  token: process.env.UPSTASH_REDIS_REST_TOKEN || undefined,
  log: (line) => console.error(line),
}).catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
console.log(`UPSTASH_REDIS_REST_URL=${emulator.url} (backend: ${emulator.backend})`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void emulator.close().then(() => process.exit(0));
  });
}
