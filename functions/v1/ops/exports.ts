/**
 * /v1/ops/exports: the encrypted logical exports in R2 (jobs/exports), newest first. The listing
 * reads the bucket itself, not the database (the exports are there for when the database is
 * lost); each manifest is decrypted with this worker's EXPORT_KEY to show what it holds.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { keyLookup, parseExportKey } from "../../../jobs/exports/crypto";
import { listExports } from "../../../jobs/exports/list";
import { filesBucket } from "../../../jobs/storage/bucket";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses } from "../openapi";
import { NO_STORE } from "./neon";

const ExportSummary = z
  .object({
    id: z.string().openapi({ example: "2026-11-29T04-00-00Z" }),
    created_at: z.string(),
    status: z.enum(["complete", "incomplete", "unreadable"]),
    key_id: z.string().nullable(),
    objects: z.number().int(),
    bytes: z.number().int(),
    manifest: z
      .object({
        schema_version: z.string(),
        started_at: z.string(),
        finished_at: z.string(),
        tables: z.number().int(),
        rows: z.number().int(),
      })
      .nullable(),
  })
  .openapi("ExportSummary");

const listRoute = createRoute({
  method: "get",
  path: "/ops/exports",
  tags: ["ops"],
  summary: "The encrypted exports in R2 (admin)",
  description:
    "Admins only. Every export folder in the FILES bucket, newest first: `complete` when its " +
    "manifest was written (restorable with `npm run export:restore`), `incomplete` for a run that " +
    "failed or is still going (retention removes those a day after their last object), " +
    "`unreadable` when its manifest does not decrypt with the key of its id. `manifest` is what the " +
    "decrypted manifest says, null when the export is incomplete or encrypted with a key other " +
    "than this worker's EXPORT_KEY (`key_id` says which). 503 when no bucket is bound.",
  security: bearerSecurity,
  responses: {
    200: {
      description: "The exports",
      headers: NO_STORE,
      content: { "application/json": { schema: z.object({ data: z.array(ExportSummary) }) } },
    },
    ...errorResponses(403),
  },
});

export function registerExports(app: OpenAPIHono<V1Env>) {
  app.openapi(listRoute, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const bucket = filesBucket(c.env);
    if (!bucket) throw new ApiError("service_unavailable", "No R2 bucket is bound (FILES)");
    const env = c.get("env");
    const key = env.EXPORT_KEY ? parseExportKey(env.EXPORT_KEY_ID, env.EXPORT_KEY) : null;
    const data = await listExports(bucket, keyLookup(key));
    return c.json({ data }, 200);
  });
}
