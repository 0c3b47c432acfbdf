import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  FISIOTERAPEUTA_VERSION,
  type FisioterapeutaRow,
  updateFisioterapeuta,
} from "../../../db/queries/fisioterapeutas";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { etagOf, versionFromIfMatch } from "../etag";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdParam, IfMatchHeader, versioned } from "../openapi";
import { Fisioterapeuta, toFisioterapeuta, UpdateFisioterapeuta } from "./schema";

const route = createRoute({
  method: "patch",
  path: "/fisioterapeutas/{id}",
  tags: ["fisioterapeutas"],
  summary: "Change a fisioterapeuta's fields (admin)",
  description:
    "Admins only (a fisioterapeuta cannot edit self: the database grants them SELECT only). Send " +
    "the ETag of your last read as If-Match: if someone changed the row since, the answer is 412 " +
    "and nothing is written.",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfMatchHeader,
    body: { required: true, content: { "application/json": { schema: UpdateFisioterapeuta } } },
  },
  responses: {
    200: versioned(Fisioterapeuta, "Updated"),
    ...errorResponses(403, 404, 409, 412),
  },
});

export function registerUpdateFisioterapeuta(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const { id } = c.req.valid("param");
    const version = versionFromIfMatch(c.req.valid("header")["if-match"]);
    const { text, params } = updateFisioterapeuta(id, c.req.valid("json"), version);
    // One round trip: the conditional UPDATE, then (in the same transaction) whether the row is
    // there at all, which tells a stale If-Match (412) from a missing row (404).
    const [[row], [current]] = await c
      .get("db")
      .batch<[FisioterapeutaRow[], { version: string }[]]>((sql) => [
        sql(text, params),
        sql(FISIOTERAPEUTA_VERSION, [id]),
      ]);
    if (!row) {
      if (current)
        throw new ApiError("precondition_failed", "The fisioterapeuta changed since If-Match; read it again");
      throw new ApiError("not_found", "No such fisioterapeuta");
    }
    c.header("ETag", etagOf(row.version));
    return c.json(toFisioterapeuta(row), 200);
  });
}
