import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";
import { registerGetMigrationState } from "./migration";

/**
 * /v1/ops: operations views for admins. Each reads through the caller-scoped handle like every
 * other route (no owner connection in the API): a SECURITY DEFINER function checks the verified
 * identity and shows ids and counts only.
 */
export function registerOps(app: OpenAPIHono<V1Env>) {
  registerGetMigrationState(app);
}
