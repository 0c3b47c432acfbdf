import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses } from "../openapi";
import { EstadoMigracao } from "./schema";

/**
 * The app role has no USAGE on schema migration: the SECURITY DEFINER function reads it, after
 * checking the verified identity itself (42501 for anyone but an admin, mapped to 403).
 */
const ESTADO_MIGRACAO = "SELECT app.estado_migracao() AS estado";

const route = createRoute({
  method: "get",
  path: "/ops/migration",
  tags: ["ops"],
  summary: "The migration's state (admin)",
  description:
    "Admins only. Per migrated table: phase, watermark, rows applied, batches, rows in quarantine " +
    "(in all and per reason), lag, last run and last verification; per CDC slot: applied LSN, " +
    "transactions and changes applied, lag and last run. Ids, counts, timestamps and reasons " +
    "only, never row values. Read from the primary and never cached (`Cache-Control: no-store`).",
  security: bearerSecurity,
  responses: {
    200: {
      description: "The migration's state, `{tabelas: [], cdc: []}` before it starts",
      headers: z.object({ "Cache-Control": z.literal("no-store") }),
      content: { "application/json": { schema: EstadoMigracao } },
    },
    ...errorResponses(403),
  },
});

export function registerGetMigrationState(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    // Before anything can answer, errors included: none of it may sit in a cache.
    c.header("Cache-Control", "no-store");
    // Saves non-admins a round trip; the database's own check (above) is the guarantee.
    allowRoles(c.get("auth"), "admin");
    // The primary, not a replica: an operator watching a run wants what the job just wrote.
    const [[row]] = await c
      .get("db")
      .batch<[{ estado: unknown }[]]>((sql) => [sql(ESTADO_MIGRACAO)], { readOnly: true, primary: true });
    const parsed = EstadoMigracao.safeParse(row?.estado);
    if (!parsed.success) {
      // Paths and codes only: the values are the database's, not for a log line.
      c.get("services").logger.error("ops_migration_unexpected_shape", {
        issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), code: i.code })),
      });
      throw new ApiError("internal_server_error", "The migration state could not be read");
    }
    return c.json(parsed.data, 200);
  });
}
