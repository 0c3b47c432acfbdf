/**
 * Test helper: a local Neon endpoint on an ephemeral port for one backend, with the official
 * driver pointed at it. On postgres every call gets its own database (dropped by `close`), so test
 * files running in parallel never share state; on pglite it is an in-memory instance.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { configureNeonForLocal } from "./client";
import { type NeonEndpoint, type NeonEndpointOptions, startNeonEndpoint } from "./index";

export interface TestEndpoint {
  endpoint: NeonEndpoint;
  close(): Promise<void>;
}

export async function startTestEndpoint(
  backend: "pglite" | "postgres",
  postgresAdminUrl: string,
  prefix = "neon_test",
  options: Pick<NeonEndpointOptions, "requestTimeoutMs" | "poolSize"> = {},
): Promise<TestEndpoint> {
  const database = backend === "postgres" ? `${prefix}_${randomBytes(4).toString("hex")}` : "fisioflow";
  const endpoint = await startNeonEndpoint({
    port: 0,
    database,
    ...(backend === "postgres" ? { postgresUrl: postgresAdminUrl } : { dataDir: "memory://" }),
    log: () => {},
    ...options,
  });
  configureNeonForLocal(endpoint);
  return {
    endpoint,
    async close() {
      await endpoint.close();
      if (backend !== "postgres") return;
      const admin = new pg.Client({ connectionString: postgresAdminUrl });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
