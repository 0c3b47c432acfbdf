import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";
import { registerCreateFisioterapeuta } from "./create";
import { registerGetFisioterapeuta } from "./get";
import { registerListFisioterapeutas } from "./list";
import { registerUpdateFisioterapeuta } from "./update";

/**
 * /v1/fisioterapeutas. Roles follow the 0006 policies: admins list, register and change them; GET
 * of one row is open to every role and RLS narrows it (self for a fisioterapeuta, their own
 * fisioterapeuta for a paciente, 404 otherwise).
 */
export function registerFisioterapeutas(app: OpenAPIHono<V1Env>) {
  registerListFisioterapeutas(app);
  registerCreateFisioterapeuta(app);
  registerGetFisioterapeuta(app);
  registerUpdateFisioterapeuta(app);
}
