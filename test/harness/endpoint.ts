/**
 * The one way tests start a local Neon endpoint: on an ephemeral port, with a throw-away database
 * (on postgres a database of its own, dropped by `close`; on pglite an in-memory instance), and
 * the official driver routed to it. Optionally migrated as the owner.
 */
import { randomBytes } from "node:crypto";
import { migrate } from "../../db/migrate";
import { LOCAL } from "../../dev/config";
import { type NeonEndpoint, type NeonEndpointOptions, startNeonEndpoint } from "../../dev/neon";
import { configureNeonForLocal } from "../../dev/neon/client";
import { type NeonApi, startNeonApi } from "../../dev/neon-api";
import { type BackendName, dropDatabase, postgresAdminUrl } from "./backends";

export interface TestEndpoint {
  backend: BackendName;
  endpoint: NeonEndpoint;
  database: string;
  /** The owner role's connection string (migrations, system work). */
  ownerUrl: string;
  /** The app role's connection string (RLS applies). */
  appUrl: string;
  /** The local Neon API on this endpoint (options.neonApi): branches are dropped by `close`. */
  neonApi?: NeonApi;
  close(): Promise<void>;
}

export interface TestEndpointOptions extends Pick<NeonEndpointOptions, "requestTimeoutMs" | "poolSize"> {
  /** Part of the database name, to tell test files apart in pg_stat_activity. */
  prefix?: string;
  /** Apply db/migrations (and partition upkeep) as the owner before returning. */
  migrate?: boolean;
  /** Serve the local Neon API v2 (dev/neon-api) on the endpoint too. */
  neonApi?: boolean;
}

export async function startTestEndpoint(
  backend: BackendName,
  opts: TestEndpointOptions = {},
): Promise<TestEndpoint> {
  const database = `${opts.prefix ?? "fisioflow_t"}_${process.pid}_${randomBytes(3).toString("hex")}`;
  const endpoint = await startNeonEndpoint({
    port: 0,
    database,
    ...(backend === "postgres" ? { postgresUrl: postgresAdminUrl() } : { dataDir: "memory://" }),
    requestTimeoutMs: opts.requestTimeoutMs,
    poolSize: opts.poolSize,
    log: () => {},
  });
  configureNeonForLocal(endpoint);
  const ownerUrl = endpoint.connectionString("fisioflow_owner", database);
  let neonApi: NeonApi | undefined;
  const close = async () => {
    await neonApi?.closeAndDrop().catch(() => {});
    await endpoint.close().catch(() => {});
    if (backend === "postgres") await dropDatabase(database);
  };
  try {
    if (opts.migrate) await migrate(ownerUrl, { neon: true, identityKey: LOCAL.identityKey });
    if (opts.neonApi) {
      neonApi = await startNeonApi({
        endpoint,
        database,
        postgresUrl: backend === "postgres" ? postgresAdminUrl() : undefined,
        dataDir: "memory://",
        log: () => {},
      });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    backend,
    endpoint,
    database,
    ownerUrl,
    appUrl: endpoint.connectionString("fisioflow_app", database),
    neonApi,
    close,
  };
}
