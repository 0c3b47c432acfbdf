import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { PACIENTE_VISIVEL } from "../../../db/queries/pacientes";
import { PRESCRICOES_LIST, type PrescricaoRow } from "../../../db/queries/prescricoes";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { bearerSecurity, errorResponses, IdParam } from "../openapi";
import { ListPrescricoesQuery, PrescricaoPage, toPrescricao } from "./schema";

const route = createRoute({
  method: "get",
  path: "/pacientes/{id}/exercicios",
  tags: ["prescricoes"],
  summary: "A paciente's prescribed exercicios, newest first",
  description:
    "Admins, the paciente's fisioterapeuta and the paciente read them; a paciente the caller may " +
    "not see answers 404. Cursor pages: pass `next_cursor` back as `cursor`.",
  security: bearerSecurity,
  request: { params: IdParam, query: ListPrescricoesQuery },
  responses: {
    200: {
      description: "A page of prescricoes",
      content: { "application/json": { schema: PrescricaoPage } },
    },
    ...errorResponses(404),
  },
});

const ListCursor = z.object({ at: z.string().min(1).max(64), id: z.uuid() });

export function registerListPrescricoes(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const { ativa, limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, ListCursor) : undefined;
    const [[visible], rows] = await c
      .get("db")
      .batch<[{ visivel: boolean }[], (PrescricaoRow & { cursor_at: string })[]]>(
        (sql) => [
          sql(PACIENTE_VISIVEL, [id]),
          sql(PRESCRICOES_LIST, [id, ativa ?? null, after?.at ?? null, after?.id ?? null, limit + 1]),
        ],
        { readOnly: true },
      );
    if (!visible?.visivel) throw new ApiError("not_found", "No such paciente");
    const page = rows.slice(0, limit);
    const last = rows.length > limit ? page[page.length - 1] : undefined;
    return c.json(
      {
        data: page.map(toPrescricao),
        next_cursor: last ? encodeCursor({ at: last.cursor_at, id: last.id }) : null,
      },
      200,
    );
  });
}
