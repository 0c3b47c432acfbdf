/**
 * `tsx dev/neon/main.ts`: runs the local Neon endpoint alone, from env — PORT (default 4444),
 * LOCAL_POSTGRES_URL (a superuser URL; absent → embedded PGlite in .data/pglite/<database>),
 * NEON_DATA_DIR, NEON_DATABASE, NEON_ALLOWED_ORIGINS / NEON_ALLOWED_HOSTS (comma-separated, added
 * to the development origins and local host names the endpoint answers).
 */
import { startNeonEndpoint } from "./index";
import { DEFAULT_ALLOWED_ORIGINS } from "./origin-check";

const list = (v: string | undefined) =>
  v
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

const endpoint = await startNeonEndpoint({
  port: process.env.PORT ? Number(process.env.PORT) : undefined,
  postgresUrl: process.env.LOCAL_POSTGRES_URL || undefined,
  dataDir: process.env.NEON_DATA_DIR || undefined,
  database: process.env.NEON_DATABASE || undefined,
  poolSize: process.env.NEON_POOL_SIZE ? Number(process.env.NEON_POOL_SIZE) : undefined,
  allowedOrigins: [...DEFAULT_ALLOWED_ORIGINS, ...list(process.env.NEON_ALLOWED_ORIGINS)],
  allowedHosts: list(process.env.NEON_ALLOWED_HOSTS),
});
console.log(
  JSON.stringify({
    url: endpoint.url,
    sqlUrl: endpoint.sqlUrl,
    wsProxy: endpoint.wsProxy,
    backend: endpoint.backend,
    connectionString: endpoint.connectionString("fisioflow_app"),
  }),
);
const stop = () => {
  endpoint.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
