/**
 * `tsx dev/neon/main.ts`: runs the local Neon endpoint alone, from env — PORT (default 4444),
 * LOCAL_POSTGRES_URL (a superuser URL; absent → embedded PGlite in .data/pglite/<database>),
 * NEON_DATA_DIR, NEON_DATABASE.
 */
import { startNeonEndpoint } from "./index";

const endpoint = await startNeonEndpoint({
  port: process.env.PORT ? Number(process.env.PORT) : undefined,
  postgresUrl: process.env.LOCAL_POSTGRES_URL || undefined,
  dataDir: process.env.NEON_DATA_DIR || undefined,
  database: process.env.NEON_DATABASE || undefined,
  poolSize: process.env.NEON_POOL_SIZE ? Number(process.env.NEON_POOL_SIZE) : undefined,
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
