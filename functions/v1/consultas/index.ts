import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";
import { registerCreateConsulta } from "./create";
import { registerGetConsulta } from "./get";
import { registerListConsultas } from "./list";
import { registerUpdateConsulta } from "./update";

/** /v1/consultas: book, list by range, read with ETag, move / annotate / change status with If-Match. */
export function registerConsultas(app: OpenAPIHono<V1Env>) {
  registerListConsultas(app);
  registerCreateConsulta(app);
  registerGetConsulta(app);
  registerUpdateConsulta(app);
}
