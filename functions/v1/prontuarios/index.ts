import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";
import { registerCreateProntuario } from "./create";
import { registerGetProntuario } from "./get";
import { registerListProntuarios } from "./list";

/** /v1/prontuarios: append-only (no PATCH or DELETE), every read audited. */
export function registerProntuarios(app: OpenAPIHono<V1Env>) {
  registerListProntuarios(app);
  registerCreateProntuario(app);
  registerGetProntuario(app);
}
