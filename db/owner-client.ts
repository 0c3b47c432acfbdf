/**
 * One interactive connection for owner-side work (migrate, seed, partition upkeep from Node):
 * `pg` for a plain postgres:// URL, @neondatabase/serverless' Pool over WebSocket for a Neon or
 * local-endpoint URL (db/neon-config must already have routed the driver; scripts/ do that).
 */
import { neonRoutedLocally } from "./neon-config";

export interface Queryable {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** A Neon host: the driver's WebSocket Pool, never `pg` (Neon's proxy is reached over 443). */
export function isNeonHost(url: string): boolean {
  return /\.neon\.tech\b/.test(url);
}

/**
 * `neon` undefined = auto: the Neon driver when the host is *.neon.tech or when the driver has
 * been routed to a local endpoint in this process, else `pg`. Pass false to force `pg`.
 */
export async function openClient(
  url: string,
  neon?: boolean,
): Promise<{ client: Queryable; close: () => Promise<void> }> {
  if (neon ?? (isNeonHost(url) || neonRoutedLocally())) {
    const { Pool } = await import("@neondatabase/serverless");
    const pool = new Pool({ connectionString: url, max: 1 });
    const client = await pool.connect();
    return {
      client,
      close: async () => {
        client.release();
        await pool.end();
      },
    };
  }
  const pg = (await import("pg")).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { client, close: () => client.end() };
}
