import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";
import { registerAnonymizePaciente } from "./anonymize";
import { registerCreatePaciente } from "./create";
import { registerDeletePaciente } from "./delete";
import { registerExportPaciente } from "./export";
import { registerGetPaciente } from "./get";
import { registerListPacientes } from "./list";
import { registerUpdatePaciente } from "./update";

export function registerPacientes(app: OpenAPIHono<V1Env>) {
  registerListPacientes(app);
  registerCreatePaciente(app);
  registerGetPaciente(app);
  registerUpdatePaciente(app);
  registerDeletePaciente(app);
  registerExportPaciente(app);
  registerAnonymizePaciente(app);
}
