import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { INSERT_PRESCRICAO, type PrescricaoRow } from "../../../db/queries/prescricoes";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { etagOf } from "../etag";
import { allowRoles } from "../guards";
import { bearerSecurity, created, errorResponses, IdempotencyKeyHeader, IdParam } from "../openapi";
import { CreatePrescricao, Prescricao, toPrescricao } from "./schema";

const route = createRoute({
  method: "post",
  path: "/pacientes/{id}/exercicios",
  tags: ["prescricoes"],
  summary: "Prescribe an exercicio to a paciente",
  description:
    "Admins and the paciente's fisioterapeuta prescribe; the prescription is in the name of the " +
    "paciente's fisioterapeuta. A paciente the caller may not see answers 404; an unknown " +
    "exercicio answers 422.",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: CreatePrescricao } } },
  },
  responses: {
    201: created(Prescricao, "Prescribed"),
    ...errorResponses(403, 404, 422),
  },
});

export function registerCreatePrescricao(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin", "fisioterapeuta");
    const { id } = c.req.valid("param");
    const b = c.req.valid("json");
    const [[row]] = await c
      .get("db")
      .batch<[PrescricaoRow[]]>((sql) => [
        sql(INSERT_PRESCRICAO, [
          id,
          b.exercicio_id,
          b.series,
          b.repeticoes,
          b.frequencia,
          b.observacoes ?? null,
          b.inicio,
          b.fim ?? null,
        ]),
      ]);
    if (!row) throw new ApiError("not_found", "No such paciente");
    c.header("ETag", etagOf(row.version));
    c.header("Location", `/v1/prescricoes/${row.id}`);
    return c.json(toPrescricao(row), 201);
  });
}
