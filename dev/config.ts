/**
 * Defaults of the local cloud. Every value here is a local development value: the ports the
 * emulators listen on, the roles and passwords the local Neon endpoint accepts, and the tokens and
 * signing keys of the Upstash emulators (the same ones Upstash's own local dev servers use).
 * `.dev.vars.example` mirrors these; nothing here is used in production.
 */
export const LOCAL = {
  host: "127.0.0.1",
  ports: {
    neon: 4444, // Neon endpoint: HTTP /sql, WebSocket /v1 (and later the Neon API under /api/v2)
    redis: 8079, // Upstash Redis REST
    qstash: 8080, // QStash
    worker: 8787, // wrangler dev
  },
  /** The local endpoint's id: a Neon-style host `ep-fisioflow-local.<anything>` or the startup
   * option `endpoint=ep-fisioflow-local` names it, as on Neon (dev/neon/hosts.ts). */
  endpointId: "ep-fisioflow-local",
  /** The database the local Neon endpoint serves (Neon's default is neondb; ours is fisioflow). */
  database: "fisioflow",
  /** Roles of the local Neon "project": name → password. The owner runs migrations; the app role
   * is what the API connects as (it owns nothing, so Row Level Security applies to it). */
  roles: {
    fisioflow_owner: "owner-local-password",
    fisioflow_app: "app-local-password",
  } as Record<string, string>,
  /** The local Neon API v2 (dev/neon-api, under /api/v2 on the endpoint's port): its API key, its
   * one project, and the main branch's id (Neon's three-part `br-...` form, which neonctl expects). */
  neonApi: {
    key: "local-neon-api-key",
    projectId: "fisioflow-local",
    projectName: "fisioflow (local)",
    mainBranchId: "br-fisioflow-main-000000",
  },
  /** Upstash Redis REST token accepted by the local emulator. */
  redisToken: "local-upstash-redis-token",
  /** The identity key the local worker signs with and db:migrate installs (DB_IDENTITY_KEY_ID /
   * DB_IDENTITY_KEY; db/identity.ts). A development value: production refuses it. */
  identityKey: { kid: "local", secret: "local-identity-key-not-a-secret-0123456789" },
  /** The key local exports are encrypted with (EXPORT_KEY_ID / EXPORT_KEY, base64 of 32 bytes;
   * jobs/exports). A development value: production refuses it. */
  exportKey: { id: "local", base64: "bG9jYWwtZXhwb3J0LWtleS1ub3QtYS1zZWNyZXQtMDE=" },
} as const;

/** A Neon-style connection string for the local endpoint. The host is not resolved: the app routes
 * it to the endpoint with `neonConfig.fetchEndpoint` / `neonConfig.wsProxy`. */
export function localConnectionString(
  role: keyof typeof LOCAL.roles | string = "fisioflow_app",
  database: string = LOCAL.database,
  host = `localhost:${LOCAL.ports.neon}`,
): string {
  const password = LOCAL.roles[role];
  if (password === undefined) throw new Error(`unknown local role ${role}`);
  return `postgresql://${role}:${encodeURIComponent(password)}@${host}/${database}`;
}
