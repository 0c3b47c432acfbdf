import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";
import { registerAlerts } from "./alerts";
import { registerBackups } from "./backups";
import { registerBranches } from "./branches";
import { registerExports } from "./exports";
import { registerMetrics } from "./metrics";
import { registerGetMigrationState } from "./migration";
import { registerReplicas } from "./replicas";

/**
 * /v1/ops: operations views and actions for admins. The migration view reads through the
 * caller-scoped handle like every other route (no owner connection in the API): a SECURITY
 * DEFINER function checks the verified identity and shows ids and counts only. Branches,
 * replicas, backups and restore go to Neon's API (services.neon), admins only; their answers
 * carry ids, names, hosts and limits, never a password or connection string.
 */
export function registerOps(app: OpenAPIHono<V1Env>) {
  // Before anything can answer (a 400 from validation, a 403, a 503): nothing of /ops is cached.
  app.use("/ops/*", async (c, next) => {
    c.header("Cache-Control", "no-store");
    await next();
  });
  registerGetMigrationState(app);
  registerBranches(app);
  registerReplicas(app);
  registerBackups(app);
  registerMetrics(app);
  registerAlerts(app);
  registerExports(app);
}
