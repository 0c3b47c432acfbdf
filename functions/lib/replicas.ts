/**
 * Where reads may go: the read replicas' connection strings. READ_REPLICA_URLS when it is set;
 * otherwise, with the Neon API configured, the replicas are discovered: the read_only endpoints of
 * the branch DATABASE_URL's endpoint belongs to (a Neon read replica is a read_only endpoint on the
 * same branch, never a branch). A replica of the same branch has the same roles and passwords, so
 * its connection string is DATABASE_URL with the replica's host (and `-pooler` if DATABASE_URL
 * uses the pooler): no password is fetched from Neon, and none is cached anywhere.
 *
 * Discovery costs one Neon API call per isolate per minute at most: the hosts are remembered in
 * the isolate for 60 s and shared through Redis for 60 s (hosts only, never a connection string;
 * a cached host outside DATABASE_URL's domain is ignored). A request waits at most 2 s for it.
 * Redis is an optimisation: without it, or when it fails, the API is asked. A failed discovery
 * means no replicas for 30 s (every read on the primary), logged once per attempt.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { NeonControlPlane } from "../../jobs/neon/api";
import type { Logger } from "./logger";

const TTL_MS = 60_000;
const FAILED_TTL_MS = 30_000;
/** A request waits at most this long for a discovery; slower counts as failed (primary only). */
const DISCOVERY_TIMEOUT_MS = 2_000;
const memory = new Map<string, { hosts: string[]; until: number }>();

/** An endpoint host as Neon names it (no `-pooler`), lower case; localhost as 127.0.0.1. */
export function endpointKey(host: string): string {
  const h = host.trim().toLowerCase();
  const [first, ...rest] = h.split(".");
  const label = first!.replace(/-pooler(?=$|:)/, "");
  const joined = [label, ...rest].join(".");
  return joined.replace(/^localhost(?=$|:)/, "127.0.0.1");
}

/**
 * Whether `host` may carry DATABASE_URL's credentials: the same domain as the primary's host (all
 * but the first label, e.g. `.sa-east-1.aws.neon.tech`, or the same local address). A host read
 * from Redis that is not is ignored, so write access to Redis never becomes the database password.
 */
export function sameDomain(host: string, primaryHost: string): boolean {
  const domain = (h: string) => {
    const name = endpointKey(h).replace(/:\d+$/, "");
    // An address (IPv4, [IPv6]) or a bare name is its own domain: it must be the same one.
    if (/^[\d.]+$/.test(name) || name.startsWith("[") || !name.includes(".")) return name;
    return name.split(".").slice(1).join(".");
  };
  return domain(host) !== "" && domain(host) === domain(primaryHost);
}

/** DATABASE_URL pointed at a replica's host: same role, password, database and parameters. */
export function replicaUrl(databaseUrl: string, replicaHost: string): string {
  const u = new URL(databaseUrl);
  const pooled = /^[^.:]+-pooler(?=$|[.:])/.test(u.hostname);
  const [first, ...rest] = replicaHost.split(".");
  const host = pooled && first!.startsWith("ep-") ? [`${first}-pooler`, ...rest].join(".") : replicaHost;
  // URL.host keeps a port if the replica's host has one (the local cloud's endpoints do).
  u.host = host;
  return u.toString();
}

async function discover(neon: NeonControlPlane, databaseUrl: string): Promise<string[]> {
  const primaryKey = endpointKey(new URL(databaseUrl).host);
  const endpoints = await neon.listEndpoints();
  const primary = endpoints.find((e) => endpointKey(e.host) === primaryKey);
  if (!primary) return [];
  return endpoints
    .filter((e) => e.type === "read_only" && e.branchId === primary.branchId)
    .map((e) => e.host)
    .sort();
}

export interface ReplicaSources {
  databaseUrl: string;
  /** READ_REPLICA_URLS, as configured. */
  configured?: string;
  neon: NeonControlPlane | null;
  redis: Redis | null;
  logger: Logger;
  now?: () => number;
}

/** The replicas' connection strings (empty: every read goes to the primary). */
export async function replicaUrls(src: ReplicaSources): Promise<string[]> {
  if (src.configured) return src.configured.split(",").map((u) => u.trim());
  if (!src.neon) return [];
  const now = (src.now ?? Date.now)();
  const key = `${src.neon.projectId}|${endpointKey(new URL(src.databaseUrl).host)}`;
  const hit = memory.get(key);
  if (hit && hit.until > now) return hit.hosts.map((h) => replicaUrl(src.databaseUrl, h));
  const redisKey = `neon:replicas:${key}`;
  let hosts: string[] | null = null;
  if (src.redis) {
    try {
      hosts = await src.redis.get<string[]>(redisKey);
    } catch (err) {
      src.logger.warn("replica_discovery_cache_failed", { op: "get", error: (err as Error).name });
    }
  }
  const primaryHost = new URL(src.databaseUrl).host;
  if (Array.isArray(hosts) && !hosts.every((h) => typeof h === "string" && sameDomain(h, primaryHost))) {
    src.logger.warn("replica_discovery_cache_rejected", { entries: hosts.length });
    hosts = null;
  }
  if (!Array.isArray(hosts)) {
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("TimeoutError")), DISCOVERY_TIMEOUT_MS);
      });
      try {
        hosts = (await Promise.race([discover(src.neon, src.databaseUrl), timeout])).filter((h) =>
          sameDomain(h, primaryHost),
        );
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      src.logger.warn("replica_discovery_failed", {
        error: (err as Error).name,
        status: (err as { status?: number }).status,
      });
      memory.set(key, { hosts: [], until: now + FAILED_TTL_MS });
      return [];
    }
    if (src.redis) {
      await src.redis.set(redisKey, hosts, { px: TTL_MS }).catch((err: Error) => {
        src.logger.warn("replica_discovery_cache_failed", { op: "set", error: err.name });
      });
    }
  }
  memory.set(key, { hosts, until: now + TTL_MS });
  return hosts.map((h) => replicaUrl(src.databaseUrl, h));
}

/** Tests: forget what this isolate discovered. */
export function forgetDiscoveredReplicas(): void {
  memory.clear();
}
