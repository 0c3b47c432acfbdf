/**
 * The one place that sets `neonConfig` (global to @neondatabase/serverless). The worker calls it
 * with its env on every request, the scripts and the local cloud with their settings, the tests
 * with their endpoint: each says where queries go, and this module decides what that means for
 * the driver's flags, so the worker, the scripts and the tests cannot drift apart.
 */
import { neonConfig } from "@neondatabase/serverless";

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1"]);
let configuredFetchEndpoint: string | undefined;

export interface NeonRouting {
  /**
   * Where neon() posts HTTP queries (the local endpoint's /sql). Absent: Neon's own host. A
   * connection string naming localhost:PORT goes to that port's /sql instead (several local
   * endpoints at once: primary and replicas).
   */
  fetchEndpoint?: string;
  /** host:port/path of a plain-WebSocket proxy for Pool/Client (the local endpoint's /v1). */
  wsProxy?: string;
  /** The WebSocket class for Pool/Client where the runtime has none to offer (Node < 22: `ws`). */
  webSocketConstructor?: unknown;
  /** Replaces the driver's fetch for HTTP queries (benchmark diagnostics only). */
  fetchFunction?: unknown;
}

/**
 * Applies `routing`; what it leaves out stays as it is. The settings are global to the driver but
 * identical for every request of one process, so setting them again is harmless (and skipped).
 */
export function configureNeon(routing: NeonRouting): void {
  if (routing.fetchEndpoint && configuredFetchEndpoint !== routing.fetchEndpoint) {
    const fallback = routing.fetchEndpoint;
    configuredFetchEndpoint = fallback;
    // Each local endpoint serves the connection strings that name its port (a branch, a read
    // replica), as Neon routes by endpoint host; any other host goes to the configured endpoint.
    neonConfig.fetchEndpoint = (host, port) =>
      LOCAL_HOSTS.has(host) && port ? `http://127.0.0.1:${port}/sql` : fallback;
  }
  if (routing.wsProxy && neonConfig.wsProxy !== routing.wsProxy) {
    // A string wsProxy becomes ws://<wsProxy>?address=<host>:<port>; the local endpoint ignores
    // the address. It speaks plain WebSocket and plain Postgres inside it (no TLS), and answers
    // AuthenticationCleartextPassword like Neon's proxy, so the pipelined startup works unchanged.
    neonConfig.wsProxy = routing.wsProxy;
    neonConfig.useSecureWebSocket = false;
    neonConfig.forceDisablePgSSL = true;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = "password";
  }
  if (routing.webSocketConstructor && neonConfig.webSocketConstructor !== routing.webSocketConstructor) {
    neonConfig.webSocketConstructor = routing.webSocketConstructor as typeof neonConfig.webSocketConstructor;
  }
  if (routing.fetchFunction) neonConfig.fetchFunction = routing.fetchFunction;
}

/** Whether Pool/Client traffic is routed to a local proxy (set by `configureNeon`). */
export function neonRoutedLocally(): boolean {
  return Boolean(neonConfig.wsProxy);
}
