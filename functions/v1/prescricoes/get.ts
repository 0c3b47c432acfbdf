import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { PRESCRICAO_BY_ID, type PrescricaoRow } from "../../../db/queries/prescricoes";
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
import { Prescricao, toPrescricao } from "./schema";

const route = createRoute({
  method: "get",
  path: "/prescricoes/{id}",
  tags: ["prescricoes"],
  summary: "One prescricao, with its ETag",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfNoneMatchHeader,
  },
  responses: {
    200: versioned(Prescricao, "The prescricao; `ETag` names this version (send it as If-Match to update)"),
    304: NOT_MODIFIED,
    ...errorResponses(404),
  },
});

export function registerGetPrescricao(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const [[row]] = await c
      .get("db")
      .batch<[PrescricaoRow[]]>((sql) => [sql(PRESCRICAO_BY_ID, [id])], { readOnly: true });
    if (!row) throw new ApiError("not_found", "No such prescricao");
    if (tagAndCheckNotModified(c, row.version, c.req.valid("header")["if-none-match"]))
      return c.body(null, 304);
    return c.json(toPrescricao(row), 200);
  });
}
