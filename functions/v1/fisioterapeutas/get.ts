import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { FISIOTERAPEUTA_BY_ID, type FisioterapeutaRow } from "../../../db/queries/fisioterapeutas";
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
import { Fisioterapeuta, toFisioterapeuta } from "./schema";

const route = createRoute({
  method: "get",
  path: "/fisioterapeutas/{id}",
  tags: ["fisioterapeutas"],
  summary: "One fisioterapeuta, with its ETag",
  description:
    "Every role, as the database policies allow: admins read any fisioterapeuta, a fisioterapeuta " +
    "reads self, a paciente reads the fisioterapeuta who treats them. Any other id answers 404.",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfNoneMatchHeader,
  },
  responses: {
    200: versioned(
      Fisioterapeuta,
      "The fisioterapeuta; `ETag` names this version (send it as If-Match to update)",
    ),
    304: NOT_MODIFIED,
    ...errorResponses(404),
  },
});

export function registerGetFisioterapeuta(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    // No role check: RLS (fisioterapeutas_admin/_self/_do_paciente) decides, and a row it hides is a 404.
    const [[row]] = await c
      .get("db")
      .batch<[FisioterapeutaRow[]]>((sql) => [sql(FISIOTERAPEUTA_BY_ID, [id])], { readOnly: true });
    if (!row) throw new ApiError("not_found", "No such fisioterapeuta");
    if (tagAndCheckNotModified(c, row.version, c.req.valid("header")["if-none-match"]))
      return c.body(null, 304);
    return c.json(toFisioterapeuta(row), 200);
  });
}
