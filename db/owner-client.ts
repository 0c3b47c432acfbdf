/**
 * One interactive connection for owner-side scripts (migrate, seed, partition job from Node):
 * `pg` for a plain postgres:// URL, @neondatabase/serverless' Pool over WebSocket for a Neon or
 * local-endpoint URL (neonConfig must already point at it; see configureNeonFromEnv).
 */
export interface Queryable {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * `neon` undefined = auto: the Neon driver when the host is *.neon.tech or when neonConfig.wsProxy
 * has been set in this process (configureNeonForLocal), else `pg`. Pass false to force `pg`.
 */
export async function openClient(
  url: string,
  neon?: boolean,
): Promise<{ client: Queryable; close: () => Promise<void> }> {
  if (neon ?? (await neonConfigured(url))) {
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

async function neonConfigured(url: string): Promise<boolean> {
  if (/\.neon\.tech\b/.test(url)) return true;
  const { neonConfig } = await import("@neondatabase/serverless");
  return Boolean(neonConfig.wsProxy);
}

/**
 * CLI helper: NEON_WS_PROXY (+ NEON_FETCH_ENDPOINT) → the local endpoint; a *.neon.tech host →
 * real Neon over secure WebSocket; otherwise plain pg. Returns whether to use the Neon driver.
 */
export async function configureNeonFromEnv(url: string): Promise<boolean> {
  const wsProxy = process.env.NEON_WS_PROXY;
  if (wsProxy) {
    const { configureNeonForLocal } = await import("../dev/neon/client");
    configureNeonForLocal({ wsProxy, sqlUrl: process.env.NEON_FETCH_ENDPOINT ?? "" });
    return true;
  }
  if (/\.neon\.tech\b/.test(url)) {
    const [{ neonConfig }, { WebSocket }] = await Promise.all([
      import("@neondatabase/serverless"),
      import("ws"),
    ]);
    neonConfig.webSocketConstructor = WebSocket;
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
export async function resolveOwnerUrl(explicit?: string): Promise<string | undefined> {
  const given = explicit ?? process.env.DATABASE_OWNER_URL;
  if (given) return given;
  const { loadDevVars } = await import("../dev/vars");
  const vars = loadDevVars();
  if (!vars.DATABASE_OWNER_URL) return undefined;
  for (const key of ["NEON_WS_PROXY", "NEON_FETCH_ENDPOINT"]) {
    if (vars[key] && process.env[key] === undefined) process.env[key] = vars[key];
  }
  console.log("using the local cloud's owner URL from .dev.vars.example/.dev.vars");
  return vars.DATABASE_OWNER_URL;
}
