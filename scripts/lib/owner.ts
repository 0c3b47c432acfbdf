/**
 * What the owner-side CLIs (migrate, seed) share: which URL to use and how to route the Neon
 * driver to it. Only scripts load .dev.vars; db/ and jobs/ take URLs and settings as arguments.
 */
import { WebSocket } from "ws";
import { configureNeon } from "../../db/neon-config";
import { isNeonHost } from "../../db/owner-client";
import { loadDevVars } from "./vars";

/**
 * NEON_WS_PROXY (+ NEON_FETCH_ENDPOINT) → the local endpoint; a *.neon.tech host → real Neon over
 * secure WebSocket; otherwise plain pg. Returns whether to use the Neon driver.
 */
export function configureNeonFromEnv(url: string): boolean {
  const wsProxy = process.env.NEON_WS_PROXY;
  if (wsProxy) {
    configureNeon({
      wsProxy,
      fetchEndpoint: process.env.NEON_FETCH_ENDPOINT,
      webSocketConstructor: WebSocket,
    });
    return true;
  }
  if (isNeonHost(url)) {
    configureNeon({ webSocketConstructor: WebSocket });
    return true;
  }
  return false;
}

/**
 * The owner URL for the CLIs (migrate, seed): an explicit one or DATABASE_OWNER_URL as given.
 * With neither, the local cloud's values from .dev.vars.example / .dev.vars (the owner URL and the
 * local endpoint's routes), so `npm run db:seed` just works beside `npm run dev`. The local routes
 * are never mixed into an explicitly given URL: that could send a Neon URL to the local endpoint.
 */
export function resolveOwnerUrl(explicit?: string): string | undefined {
  const given = explicit ?? process.env.DATABASE_OWNER_URL;
  if (given) return given;
  const vars = loadDevVars();
  if (!vars.DATABASE_OWNER_URL) return undefined;
  for (const key of ["NEON_WS_PROXY", "NEON_FETCH_ENDPOINT"]) {
    if (vars[key] && process.env[key] === undefined) process.env[key] = vars[key];
  }
  // On stderr: a script's stdout may be its result (npm run -s token).
  console.error("using the local cloud's owner URL from .dev.vars.example/.dev.vars");
  return vars.DATABASE_OWNER_URL;
}
