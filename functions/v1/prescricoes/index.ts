import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";
import { registerCreatePrescricao } from "./create";
import { registerGetPrescricao } from "./get";
import { registerListPrescricoes } from "./list";
import { registerUpdatePrescricao } from "./update";

/** A paciente's prescribed exercicios: /v1/pacientes/{id}/exercicios and /v1/prescricoes/{id}. */
export function registerPrescricoes(app: OpenAPIHono<V1Env>) {
  registerListPrescricoes(app);
  registerCreatePrescricao(app);
  registerGetPrescricao(app);
  registerUpdatePrescricao(app);
}
