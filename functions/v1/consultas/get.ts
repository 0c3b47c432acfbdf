import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { CONSULTA_BY_ID, type ConsultaRow } from "../../../db/queries/consultas";
import { ApiError } from "../../errors";
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
import { Consulta, toConsulta } from "./schema";

const route = createRoute({
  method: "get",
  path: "/consultas/{id}",
  tags: ["consultas"],
  summary: "One consulta, with its ETag",
  description:
    "Admins read any consulta, a fisioterapeuta those of their pacientes, a paciente their own; " +
    "any other answers 404.",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfNoneMatchHeader,
  },
  responses: {
    200: versioned(Consulta, "The consulta; `ETag` names this version (send it as If-Match to update)"),
    304: NOT_MODIFIED,
    ...errorResponses(404),
  },
});

export function registerGetConsulta(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    // By id alone every month partition is probed on its key; id is unique across them all.
    const [[row]] = await c.get("db").batch<[ConsultaRow[]]>((sql) => [sql(CONSULTA_BY_ID, [id])], {
      readOnly: true,
    });
    if (!row) throw new ApiError("not_found", "No such consulta");
    if (tagAndCheckNotModified(c, row.version, c.req.valid("header")["if-none-match"]))
      return c.body(null, 304);
    return c.json(toConsulta(row), 200);
  });
}
