import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { PRONTUARIO_BY_ID, type ProntuarioRow } from "../../../db/queries/prontuarios";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { tagAndCheckNotModified } from "../etag";
import { allowRoles } from "../guards";
import {
  bearerSecurity,
  errorResponses,
  IdParam,
  IfNoneMatchHeader,
  NOT_MODIFIED,
  versioned,
} from "../openapi";
import { Prontuario, toProntuario } from "./schema";

const route = createRoute({
  method: "get",
  path: "/prontuarios/{id}",
  tags: ["prontuarios"],
  summary: "One prontuario version, with its ETag (the read is audited)",
  description:
    "The paciente's fisioterapeuta and the paciente read it (admins: 403; theirs is the LGPD export). Every read, a 304 included, is " +
    "recorded in the audit log (who, which record; never its text).",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfNoneMatchHeader,
  },
  responses: {
    200: versioned(Prontuario, "The version; its ETag changes once it is corrected"),
    304: NOT_MODIFIED,
    ...errorResponses(403, 404),
  },
});

export function registerGetProntuario(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    // Clinical text is for the paciente's fisioterapeuta and the paciente (DESIGN.md), though the
    // database would let an admin read it; an admin's lawful copy is the LGPD export.
    allowRoles(c.get("auth"), "fisioterapeuta", "paciente");
    const { id } = c.req.valid("param");
    // Not readOnly: the read writes its audit row in the same statement (db/queries/prontuarios.ts).
    const [[row]] = await c
      .get("db")
      .batch<[ProntuarioRow[]]>((sql) => [sql(PRONTUARIO_BY_ID, [id])], { auditedRead: true });
    if (!row) throw new ApiError("not_found", "No such prontuario");
    if (tagAndCheckNotModified(c, row.version, c.req.valid("header")["if-none-match"]))
      return c.body(null, 304);
    return c.json(toProntuario(row), 200);
  });
}
