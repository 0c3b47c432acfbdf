import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { DEACTIVATE_PACIENTE } from "../../../db/queries/pacientes";
import { ApiError } from "../../errors";
import { createCache } from "../../lib/cache";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdParam } from "../openapi";
import { pacienteCacheKey } from "./cache";

const route = createRoute({
  method: "delete",
  path: "/pacientes/{id}",
  tags: ["pacientes"],
  summary: "Deactivate a paciente (the record is kept)",
  description:
    "Clinical records must be kept (20 years in Brazil): DELETE sets status `inativo` and keeps " +
    "everything. Personal data is removed only by the LGPD anonymize route.",
  security: bearerSecurity,
  request: { params: IdParam },
  responses: {
    204: { description: "Deactivated (or already inactive)" },
    ...errorResponses(403, 404),
  },
});

export function registerDeletePaciente(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin", "fisioterapeuta");
    const { id } = c.req.valid("param");
    const [rows] = await c.get("db").batch((sql) => [sql(DEACTIVATE_PACIENTE, [id])]);
    if (rows.length === 0) throw new ApiError("not_found", "No such paciente");
    const { redis, logger } = c.get("services");
    await createCache(redis, logger).invalidate(pacienteCacheKey(id));
    return c.body(null, 204);
  });
}
