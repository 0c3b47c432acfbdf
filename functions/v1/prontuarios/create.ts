import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { isUniqueViolation, UNIQUE_CONSTRAINTS } from "../../../db/errors";
import {
  INSERT_PRONTUARIO,
  PRONTUARIO_INSERT_CHECK,
  type ProntuarioRow,
} from "../../../db/queries/prontuarios";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { etagOf } from "../etag";
import { allowRoles } from "../guards";
import { bearerSecurity, created, errorResponses, IdempotencyKeyHeader } from "../openapi";
import { CreateProntuario, Prontuario, toProntuario } from "./schema";

const route = createRoute({
  method: "post",
  path: "/prontuarios",
  tags: ["prontuarios"],
  summary: "Write a prontuario, or a corrected version of one",
  description:
    "The paciente's fisioterapeuta writes, in their own name. Records are never changed: to correct " +
    "one, POST the new text with `corrige_id` naming its latest version; the database numbers the " +
    "versions. A paciente the caller may not see answers 404; a consulta or corrected record that is " +
    "not this paciente's answers 422; correcting a version that was already corrected answers 409.",
  security: bearerSecurity,
  request: {
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: CreateProntuario } } },
  },
  responses: {
    201: created(Prontuario, "Written"),
    ...errorResponses(403, 404, 409, 422),
  },
});

export function registerCreateProntuario(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    // Only the paciente's fisioterapeuta has an INSERT policy (admins read, pacientes read own).
    allowRoles(c.get("auth"), "fisioterapeuta");
    const body = c.req.valid("json");
    const refs = [body.paciente_id, body.consulta_id ?? null, body.corrige_id ?? null];
    let rows: [ProntuarioRow[], { paciente: boolean; consulta: boolean; corrigido: boolean }[]];
    try {
      // One round trip: the INSERT, then (same transaction) why it wrote nothing, if it did not.
      rows = await c
        .get("db")
        .batch<typeof rows>((sql) => [
          sql(INSERT_PRONTUARIO, [...refs, body.conteudo]),
          sql(PRONTUARIO_INSERT_CHECK, refs),
        ]);
    } catch (err) {
      if (isUniqueViolation(err, UNIQUE_CONSTRAINTS.prontuarioCorrigido)) {
        throw new ApiError("conflict", "That version was already corrected: correct its latest version");
      }
      throw err;
    }
    const [[row], [check]] = rows;
    if (!row) {
      // A reference in the body: 422, the same answer for missing and not-yours (consultas too).
      if (!check?.paciente) {
        throw new ApiError("unprocessable_entity", "paciente_id names no paciente you can write for", [
          { path: "paciente_id", message: "no such paciente" },
        ]);
      }
      if (!check.consulta) {
        throw new ApiError("unprocessable_entity", "consulta_id is not a consulta of this paciente", [
          { path: "consulta_id", message: "not a consulta of this paciente" },
        ]);
      }
      throw new ApiError("unprocessable_entity", "corrige_id is not a prontuario of this paciente", [
        { path: "corrige_id", message: "not a prontuario of this paciente" },
      ]);
    }
    c.header("ETag", etagOf(row.version));
    c.header("Location", `/v1/prontuarios/${row.id}`);
    return c.json(toProntuario(row), 201);
  });
}
