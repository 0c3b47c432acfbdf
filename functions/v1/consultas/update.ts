import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  CONSULTA_MOVABLE,
  CONSULTA_STATE,
  CONSULTA_TRANSITIONS,
  type ConsultaRow,
  type ConsultaStatus,
  updateConsulta,
} from "../../../db/queries/consultas";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { etagOf, versionFromIfMatch } from "../etag";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdParam, IfMatchHeader, versioned } from "../openapi";
import { Consulta, toConsulta, UpdateConsulta } from "./schema";

const route = createRoute({
  method: "patch",
  path: "/consultas/{id}",
  tags: ["consultas"],
  summary: "Move, annotate or change the status of a consulta",
  description:
    "Send the ETag of your last read as If-Match: if the consulta changed since, the answer is 412 " +
    "and nothing is written. Status: agendada → confirmada → realizada; agendada or confirmada → " +
    "cancelada or falta; realizada, cancelada and falta are final, and only agendada or confirmada " +
    "consultas can be moved (422 `invalid_transition` otherwise). A move onto a time the " +
    "fisioterapeuta already has answers 409 `slot_taken`; cancelling frees the slot.",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfMatchHeader,
    body: { required: true, content: { "application/json": { schema: UpdateConsulta } } },
  },
  responses: {
    200: versioned(Consulta, "Updated"),
    ...errorResponses(403, 404, 409, 412, 422),
  },
});

export function registerUpdateConsulta(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin", "fisioterapeuta");
    const { id } = c.req.valid("param");
    const version = versionFromIfMatch(c.req.valid("header")["if-match"]);
    const body = c.req.valid("json");
    const { text, params } = updateConsulta(id, body, version);
    // One round trip: the UPDATE checks version, transition and movability in its WHERE; the
    // SELECT after it (same transaction) says why nothing was written: 404, 412 or 422.
    // An overlap raises 23P01, answered 409 slot_taken by the v1 onError (db-errors.ts).
    const [[row], [current]] = await c
      .get("db")
      .batch<[ConsultaRow[], { status: ConsultaStatus; version: string }[]]>((sql) => [
        sql(text, params),
        sql(CONSULTA_STATE, [id]),
      ]);
    if (row) {
      c.header("ETag", etagOf(row.version));
      return c.json(toConsulta(row), 200);
    }
    if (!current) throw new ApiError("not_found", "No such consulta");
    if (version !== undefined && current.version !== version) {
      throw new ApiError("precondition_failed", "The consulta changed since If-Match; read it again");
    }
    if (body.status !== undefined && body.status !== current.status) {
      const allowed = CONSULTA_TRANSITIONS[current.status];
      if (!allowed.includes(body.status)) {
        throw new ApiError(
          "invalid_transition",
          `A consulta ${current.status} cannot become ${body.status}`,
          {
            from: current.status,
            to: body.status,
            allowed,
          },
        );
      }
    }
    const moving = body.data_consulta !== undefined || body.duracao_min !== undefined;
    if (moving && !CONSULTA_MOVABLE.includes(current.status)) {
      throw new ApiError("invalid_transition", `A consulta ${current.status} cannot be moved`, {
        from: current.status,
        allowed: [],
      });
    }
    // The row changed between the UPDATE and the SELECT (a concurrent write): nothing was written.
    throw new ApiError("conflict", "The consulta changed while updating; read it again");
  });
}
