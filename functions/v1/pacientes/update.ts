import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { PACIENTE_VERSION, type PacienteRow, updatePaciente } from "../../../db/queries/pacientes";
import { ApiError } from "../../errors";
import { createCache } from "../../lib/cache";
import type { V1Env } from "../context";
import { etagOf, versionFromIfMatch } from "../etag";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdParam, IfMatchHeader, versioned } from "../openapi";
import { pacienteCacheKey } from "./cache";
import { Paciente, toPaciente, UpdatePaciente } from "./schema";

const route = createRoute({
  method: "patch",
  path: "/pacientes/{id}",
  tags: ["pacientes"],
  summary: "Change a paciente's fields",
  description:
    "Send the ETag of your last read as If-Match: if someone changed the paciente since, the answer " +
    "is 412 and nothing is written. `null` clears an optional field.",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfMatchHeader,
    body: { required: true, content: { "application/json": { schema: UpdatePaciente } } },
  },
  responses: {
    200: versioned(Paciente, "Updated"),
    ...errorResponses(403, 404, 409, 412, 422),
  },
});

export function registerUpdatePaciente(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin", "fisioterapeuta");
    const { id } = c.req.valid("param");
    const version = versionFromIfMatch(c.req.valid("header")["if-match"]);
    const { text, params } = updatePaciente(id, c.req.valid("json"), version);
    // One round trip: the conditional UPDATE, then (in the same transaction) whether the row is
    // there at all for this caller, which tells a stale If-Match (412) from a missing row (404).
    const [[row], [current]] = await c
      .get("db")
      .batch<[PacienteRow[], { version: string; status: string }[]]>((sql) => [
        sql(text, params),
        sql(PACIENTE_VERSION, [id]),
      ]);
    if (!row) {
      if (current?.status === "anonimizado") {
        throw new ApiError("conflict", "An anonymised paciente cannot be changed");
      }
      if (current) {
        throw new ApiError("precondition_failed", "The paciente changed since If-Match; read it again");
      }
      throw new ApiError("not_found", "No such paciente");
    }
    const { redis, logger } = c.get("services");
    await createCache(redis, logger).invalidate(pacienteCacheKey(id));
    c.header("ETag", etagOf(row.version));
    return c.json(toPaciente(row), 200);
  });
}
