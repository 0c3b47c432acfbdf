import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";
import { registerCreateExercicio } from "./create";
import { registerListExercicios } from "./list";

/** /v1/exercicios: the shared catalog every role reads (cached) and admins/fisioterapeutas extend. */
export function registerExercicios(app: OpenAPIHono<V1Env>) {
  registerListExercicios(app);
  registerCreateExercicio(app);
}
