import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { PRESCRICAO_VERSION, type PrescricaoRow, updatePrescricao } from "../../../db/queries/prescricoes";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { etagOf, versionFromIfMatch } from "../etag";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdParam, IfMatchHeader, versioned } from "../openapi";
import { Prescricao, toPrescricao, UpdatePrescricao } from "./schema";

const route = createRoute({
  method: "patch",
  path: "/prescricoes/{id}",
  tags: ["prescricoes"],
  summary: "Change a prescricao (dose, period, active)",
  description:
    "Admins and the paciente's fisioterapeuta. Send the ETag of your last read as If-Match: if " +
    "someone changed the prescricao since, the answer is 412 and nothing is written. `null` clears " +
    "`observacoes` or `fim`. Another exercicio is a new prescricao, not a change of this one.",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfMatchHeader,
    body: { required: true, content: { "application/json": { schema: UpdatePrescricao } } },
  },
  responses: {
    200: versioned(Prescricao, "Updated"),
    ...errorResponses(403, 404, 412),
  },
});

export function registerUpdatePrescricao(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin", "fisioterapeuta");
    const { id } = c.req.valid("param");
    const version = versionFromIfMatch(c.req.valid("header")["if-match"]);
    const { text, params } = updatePrescricao(id, c.req.valid("json"), version);
    // One round trip: the conditional UPDATE, then (in the same transaction) whether the row is
    // there at all for this caller, which tells a stale If-Match (412) from a missing row (404).
    const [[row], [current]] = await c
      .get("db")
      .batch<[PrescricaoRow[], { version: string }[]]>((sql) => [
        sql(text, params),
        sql(PRESCRICAO_VERSION, [id]),
      ]);
    if (!row) {
      if (current)
        throw new ApiError("precondition_failed", "The prescricao changed since If-Match; read it again");
      throw new ApiError("not_found", "No such prescricao");
    }
    c.header("ETag", etagOf(row.version));
    return c.json(toPrescricao(row), 200);
  });
}
