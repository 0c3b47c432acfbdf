import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";
import { registerAnexoContent } from "./content";
import { registerCreateAnexo } from "./create";
import { registerListAnexos } from "./list";

/**
 * Prontuario attachments: bytes in R2 (the FILES binding), descriptions in Postgres under the
 * prontuario's RLS. Append-only (no PATCH or DELETE); every download audited.
 */
export function registerAnexos(app: OpenAPIHono<V1Env>) {
  registerListAnexos(app);
  registerCreateAnexo(app);
  registerAnexoContent(app);
}
