import { consultasDiarias } from "./analytics";
import { anexos } from "./anexos";
import { auditLog } from "./audit";
import { consultas } from "./consultas";
import { exercicios, prescricoes } from "./exercicios";
import { fisioterapeutas } from "./fisioterapeutas";
import { pacientes } from "./pacientes";
import { prontuarios } from "./prontuarios";

export * from "./analytics";
export * from "./anexos";
export * from "./audit";
export * from "./common";
export * from "./consultas";
export * from "./exercicios";
export * from "./fisioterapeutas";
export * from "./pacientes";
export * from "./prontuarios";

/** Pass as `drizzle(client, { schema, casing: "snake_case" })`. */
export const schema = {
  fisioterapeutas,
  pacientes,
  consultas,
  prontuarios,
  anexos,
  exercicios,
  prescricoes,
  consultasDiarias,
  auditLog,
};
