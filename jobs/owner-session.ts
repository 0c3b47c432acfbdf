import { Pool, type PoolClient } from "@neondatabase/serverless";
import type { JobContext } from "./types";

/**
 * Runs `fn` on one owner connection (the driver's WebSocket Pool: a session, so a session-level
 * advisory lock holds across the job's statements) while holding the advisory lock `lockKey`.
 * Answers `busy` instead when another run holds it: the scheduled jobs that run every minute
 * (autoscale, metrics-poll, alerts) answer "skipped" then, so two deliveries never work at once.
 * The lock, the connection and the pool are given back however `fn` ends.
 */
export async function withOwnerLock<T>(
  ctx: Pick<JobContext, "logger">,
  ownerUrl: string,
  lockKey: number,
  fn: (client: PoolClient) => Promise<T>,
): Promise<{ busy: true } | { busy: false; value: T }> {
  const pool = new Pool({ connectionString: ownerUrl, max: 1 });
  pool.on("error", (err: Error) => ctx.logger.warn("owner_pool_error", { error: err.name }));
  try {
    const client = await pool.connect();
    try {
      const locked = await client.query("SELECT pg_try_advisory_lock($1) AS ok", [lockKey]);
      if (!locked.rows[0].ok) return { busy: true };
      try {
        return { busy: false, value: await fn(client) };
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [lockKey]).catch(() => {});
      }
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}
