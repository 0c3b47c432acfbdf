/**
 * Replica lag. On Neon a read replica is a read_only endpoint of the same branch that replays the
 * branch's WAL; its lag can only be measured on the replica itself, so the poll finds the
 * read_only endpoints of the owner URL's branch through the Neon API (as functions/lib/replicas.ts
 * finds them for reads: same role and password, the replica's host) and asks each one
 * `now() - pg_last_xact_replay_timestamp()` — 0 when it has replayed everything it received, since
 * on an idle primary that timestamp grows old without any lag (Neon's own monitoring query).
 *
 * A suspended replica is not measured: connecting would wake it up every minute and keep it from
 * ever suspending. A replica that is not in recovery (the local cloud's read_only endpoints serve
 * the primary's own database) has no lag to measure and records nothing.
 */
import { Pool } from "@neondatabase/serverless";
import type { NeonControlPlane } from "../neon/api";
import type { JobLogger } from "../types";
import type { Sample } from "./catalog";

const LAG_SQL = `
  SELECT pg_catalog.pg_is_in_recovery() AS standby,
         CASE WHEN pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() THEN 0
              ELSE extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp()) END::float8 AS lag`;

/** An endpoint host as Neon names it (no `-pooler`, lower case, localhost as 127.0.0.1). */
export function endpointKey(host: string): string {
  const [first, ...rest] = host.trim().toLowerCase().split(".");
  return [first!.replace(/-pooler(?=$|:)/, ""), ...rest].join(".").replace(/^localhost(?=$|:)/, "127.0.0.1");
}

export interface ReplicaLagReport {
  samples: Sample[];
  /** Per replica endpoint id: "ok", or why it has no sample. */
  replicas: Record<string, string>;
  note: string;
}

export async function measureReplicaLag(
  neon: NeonControlPlane | null | undefined,
  ownerUrl: string,
  logger: JobLogger,
): Promise<ReplicaLagReport> {
  if (!neon) return { samples: [], replicas: {}, note: "unavailable: the Neon API is not configured" };
  const endpoints = await neon.listEndpoints();
  const owner = new URL(ownerUrl);
  const primary = endpoints.find((e) => endpointKey(e.host) === endpointKey(owner.host));
  if (!primary)
    return { samples: [], replicas: {}, note: "unavailable: the owner URL's endpoint is not in the project" };
  const replicas = endpoints.filter((e) => e.type === "read_only" && e.branchId === primary.branchId);
  const samples: Sample[] = [];
  const seen: Record<string, string> = {};
  for (const r of replicas) {
    if (r.state === "idle") {
      seen[r.id] = "suspended: not woken up to be measured";
      continue;
    }
    const url = new URL(ownerUrl);
    url.host = r.host;
    const pool = new Pool({ connectionString: url.toString(), max: 1, connectionTimeoutMillis: 5000 });
    pool.on("error", (err: Error) =>
      logger.warn("metrics_replica_pool_error", { endpoint_id: r.id, error: err.name }),
    );
    try {
      const { rows } = await pool.query(LAG_SQL);
      const row = rows[0] as { standby?: boolean; lag?: number | null } | undefined;
      if (!row?.standby) seen[r.id] = "not in recovery: no replay lag to measure";
      else if (row.lag === null || row.lag === undefined) seen[r.id] = "nothing replayed yet";
      else {
        samples.push({
          metric: "replica_lag_seconds",
          labels: { endpoint: r.id },
          value: Math.max(0, Number(row.lag)),
        });
        seen[r.id] = "ok";
      }
    } catch (err) {
      // One replica down must not lose the poll's other figures (the alert engine sees no sample).
      logger.warn("metrics_replica_unreachable", { endpoint_id: r.id, error: (err as Error).name });
      seen[r.id] = `unreachable (${(err as Error).name})`;
    } finally {
      await pool.end().catch(() => {});
    }
  }
  return { samples, replicas: seen, note: replicas.length ? "ok" : "no read replicas" };
}
