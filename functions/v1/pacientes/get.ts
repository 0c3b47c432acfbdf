import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { PACIENTE_BY_ID, type PacienteRow } from "../../../db/queries/pacientes";
import { ApiError } from "../../errors";
import { createCache } from "../../lib/cache";
import type { V1Env } from "../context";
import { tagAndCheckNotModified } from "../etag";
import {
  bearerSecurity,
  errorResponses,
  IdParam,
  IfNoneMatchHeader,
  NOT_MODIFIED,
  versioned,
} from "../openapi";
import { type CachedPaciente, callerField, PACIENTE_CACHE_TTL_SECONDS, pacienteCacheKey } from "./cache";
import { Paciente, toPaciente } from "./schema";

const route = createRoute({
  method: "get",
  path: "/pacientes/{id}",
  tags: ["pacientes"],
  summary: "One paciente, with its ETag",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfNoneMatchHeader,
  },
  responses: {
    200: versioned(Paciente, "The paciente; `ETag` names this version (send it as If-Match to update)"),
    304: NOT_MODIFIED,
    ...errorResponses(404),
  },
});

export function registerGetPaciente(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const { redis, logger } = c.get("services");
    const found = await createCache(redis, logger).getOrLoadField<CachedPaciente>(
      pacienteCacheKey(id),
      callerField(c.get("auth")),
      PACIENTE_CACHE_TTL_SECONDS,
      async () => {
        // From the primary: the answer is cached, and a replica could still hold what a write
        // by someone else just changed (their read-your-writes window is theirs, not ours).
        const [[row]] = await c.get("db").batch<[PacienteRow[]]>((sql) => [sql(PACIENTE_BY_ID, [id])], {
          readOnly: true,
          primary: true,
        });
        return row ? { paciente: toPaciente(row), version: row.version } : undefined;
      },
    );
    if (!found) throw new ApiError("not_found", "No such paciente");
    if (tagAndCheckNotModified(c, found.version, c.req.valid("header")["if-none-match"]))
      return c.body(null, 304);
    return c.json(found.paciente, 200);
  });
}
