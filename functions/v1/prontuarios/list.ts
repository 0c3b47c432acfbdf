import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { PACIENTE_VISIVEL } from "../../../db/queries/pacientes";
import { PRONTUARIOS_LIST, type ProntuarioRow } from "../../../db/queries/prontuarios";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses } from "../openapi";
import { ListProntuariosQuery, ProntuarioPage, toProntuario } from "./schema";

const route = createRoute({
  method: "get",
  path: "/prontuarios",
  tags: ["prontuarios"],
  summary: "A paciente's prontuarios, newest first (the read is audited)",
  description:
    "`?paciente_id=` is required. By default each record's latest version only; `?versions=all` " +
    "lists every version. The paciente's fisioterapeuta and the paciente read them (admins: 403); a " +
    "paciente the caller may not see answers 404. Every prontuario returned is recorded in the " +
    "audit log as read. Cursor pages: pass `next_cursor` back as `cursor`.",
  security: bearerSecurity,
  request: { query: ListProntuariosQuery },
  responses: {
    200: {
      description: "A page of prontuarios",
      content: { "application/json": { schema: ProntuarioPage } },
    },
    ...errorResponses(403, 404),
  },
});

const ListCursor = z.object({ at: z.string().min(1).max(64), id: z.uuid() });

export function registerListProntuarios(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    // Clinical text is for the paciente's fisioterapeuta and the paciente (DESIGN.md), though the
    // database would let an admin read it; an admin's lawful copy is the LGPD export.
    allowRoles(c.get("auth"), "fisioterapeuta", "paciente");
    const { paciente_id, versions, limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, ListCursor) : undefined;
    // Not readOnly: the page's read is audited in the same statement (db/queries/prontuarios.ts).
    const [[visible], rows] = await c
      .get("db")
      .batch<[{ visivel: boolean }[], (ProntuarioRow & { cursor_at: string })[]]>(
        (sql) => [
          sql(PACIENTE_VISIVEL, [paciente_id]),
          sql(PRONTUARIOS_LIST, [
            paciente_id,
            versions === "all",
            after?.at ?? null,
            after?.id ?? null,
            limit,
          ]),
        ],
        { auditedRead: true },
      );
    if (!visible?.visivel) throw new ApiError("not_found", "No such paciente");
    const page = rows.slice(0, limit);
    const last = rows.length > limit ? page[page.length - 1] : undefined;
    return c.json(
      {
        data: page.map(toProntuario),
        next_cursor: last ? encodeCursor({ at: last.cursor_at, id: last.id }) : null,
      },
      200,
    );
  });
}
