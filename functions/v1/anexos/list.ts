import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { ANEXO_PRONTUARIO_VISIVEL, ANEXOS_LIST, type AnexoRow } from "../../../db/queries/anexos";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdParam } from "../openapi";
import { AnexoPage, ListAnexosQuery, toAnexo } from "./schema";

const route = createRoute({
  method: "get",
  path: "/prontuarios/{id}/anexos",
  tags: ["prontuarios", "anexos"],
  summary: "A prontuario's attachments, oldest first",
  description:
    "What describes each file (name, type, size, SHA-256), not its bytes: download those from " +
    "`/v1/anexos/{id}/conteudo` (audited). The paciente's fisioterapeuta and the paciente read " +
    "them (admins: 403); a prontuario the caller may not see answers 404. Attachments belong to " +
    "the prontuario version they were attached to. Cursor pages: pass `next_cursor` back as `cursor`.",
  security: bearerSecurity,
  request: { params: IdParam, query: ListAnexosQuery },
  responses: {
    200: { description: "A page of attachments", content: { "application/json": { schema: AnexoPage } } },
    ...errorResponses(403, 404),
  },
});

const ListCursor = z.object({ at: z.string().min(1).max(64), id: z.uuid() });

export function registerListAnexos(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    // As for the prontuario itself: clinical content is for the fisioterapeuta and the paciente.
    allowRoles(c.get("auth"), "fisioterapeuta", "paciente");
    const { id } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, ListCursor) : undefined;
    const [[visible], rows] = await c
      .get("db")
      .batch<[{ visivel: boolean }[], (AnexoRow & { cursor_at: string })[]]>(
        (sql) => [
          sql(ANEXO_PRONTUARIO_VISIVEL, [id]),
          sql(ANEXOS_LIST, [id, after?.at ?? null, after?.id ?? null, limit]),
        ],
        { readOnly: true },
      );
    if (!visible?.visivel) throw new ApiError("not_found", "No such prontuario");
    const page = rows.slice(0, limit);
    const last = rows.length > limit ? page[page.length - 1] : undefined;
    return c.json(
      {
        data: page.map(toAnexo),
        next_cursor: last ? encodeCursor({ at: last.cursor_at, id: last.id }) : null,
      },
      200,
    );
  });
}
