/**
 * How the migration jobs chain themselves through QStash: the next message of one chain (a table's
 * sync, a slot's CDC) is deduplicated by the position the current one reached, so a duplicate
 * delivery that reached the same position publishes nothing new, and it carries flow control with
 * parallelism 1 on the chain's key, so one chain never runs twice at once.
 */
import { Pool } from "@neondatabase/serverless";
import type { SqlClient } from "../db/migration/sync";
import type { JobContext } from "./types";

export interface ChainStep {
  job: string;
  payload: unknown;
  /** The chain: flow-control key and deduplication prefix, e.g. `migration-sync-pacientes`. */
  chain: string;
  /** Where the chain got to (a watermark, an LSN): hashed into the deduplication id. */
  position: string;
  delaySeconds?: number;
}

/** Publishes the chain's next step; null (and a warning) where QStash publishing is not configured. */
export async function publishChained(ctx: JobContext, step: ChainStep): Promise<string | null> {
  if (!ctx.publisher) {
    ctx.logger.warn("migration_cannot_chain", { chain: step.chain });
    return null;
  }
  const { messageId } = await ctx.publisher.publish(step.job, step.payload, {
    deduplicationId: `${step.chain}-${await shortHash(step.position)}`,
    delaySeconds: step.delaySeconds ?? 0,
    flowControl: { key: step.chain, parallelism: 1 },
  });
  return messageId;
}

async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)]
    .slice(0, 16)
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Runs `work` with the two connections a migration job needs, closed afterwards whatever happens:
 * the legacy source with `pg` over TCP (Workers' sockets under nodejs_compat; Hyperdrive's
 * connection string in production) and the target as the owner over Neon's WebSocket (a Pool
 * made and ended inside this request: Workers forbid sharing it across requests). A connection
 * lost while idle is logged, never an uncaught exception in the isolate.
 */
export async function withMigrationConnections<T>(
  ctx: JobContext & { legacyUrl: string; ownerUrl: string },
  name: string,
  work: (source: SqlClient, target: SqlClient) => Promise<T>,
): Promise<T> {
  const pg = (await import("pg")).default;
  const source = new pg.Client({ connectionString: ctx.legacyUrl, application_name: `fisioflow-${name}` });
  source.on("error", (err: Error) =>
    ctx.logger.warn("migration_source_error", { job: name, error: err.name }),
  );
  const pool = new Pool({ connectionString: ctx.ownerUrl, max: 1 });
  pool.on("error", (err: Error) => ctx.logger.warn("migration_pool_error", { job: name, error: err.name }));
  try {
    await source.connect();
    const target = await pool.connect();
    try {
      return await work(source as unknown as SqlClient, target as unknown as SqlClient);
    } finally {
      target.release();
    }
  } finally {
    await source.end().catch(() => {});
    await pool.end();
  }
}
