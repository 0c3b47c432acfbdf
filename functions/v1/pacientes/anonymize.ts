import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { ANONYMIZE_PACIENTE, PACIENTE_BY_ID, type PacienteRow } from "../../../db/queries/pacientes";
import { ApiError } from "../../errors";
import { createCache } from "../../lib/cache";
import type { V1Env } from "../context";
import { etagOf } from "../etag";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdempotencyKeyHeader, IdParam, versioned } from "../openapi";
import { pacienteCacheKey } from "./cache";
import { Paciente, toPaciente } from "./schema";

const route = createRoute({
  method: "post",
  path: "/pacientes/{id}/anonymize",
  tags: ["pacientes", "lgpd"],
  summary: "Anonymise a paciente for good (LGPD)",
  description:
    "Admin only. Replaces nome, email, telefone, cpf and data_nascimento with irreversible " +
    "placeholders in one database procedure; clinical records and the audit trail stay, and the " +
    "act is audited. Cannot be undone.",
  security: bearerSecurity,
  request: { params: IdParam, headers: IdempotencyKeyHeader },
  responses: {
    200: versioned(Paciente, "Anonymised"),
    ...errorResponses(403, 404),
  },
});

export function registerAnonymizePaciente(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const { id } = c.req.valid("param");
    const [[done], [row]] = await c
      .get("db")
      .batch<[{ ok: boolean }[], PacienteRow[]]>((sql) => [
        sql(ANONYMIZE_PACIENTE, [id]),
        sql(PACIENTE_BY_ID, [id]),
      ]);
    if (!done?.ok || !row) throw new ApiError("not_found", "No such paciente");
    const { redis, logger } = c.get("services");
    await createCache(redis, logger).invalidate(pacienteCacheKey(id));
    c.header("ETag", etagOf(row.version));
    return c.json(toPaciente(row), 200);
  });
}
