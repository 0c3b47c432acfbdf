import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { PACIENTES_LIST, PACIENTES_SEARCH, type PacienteRow } from "../../../db/queries/pacientes";
import type { V1Env } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { bearerSecurity, errorResponses } from "../openapi";
import { ListPacientesQuery, PacientePage, toPaciente } from "./schema";

const route = createRoute({
  method: "get",
  path: "/pacientes",
  tags: ["pacientes"],
  summary: "List or search the pacientes the caller may see",
  description:
    "Admins see every paciente, a fisioterapeuta their own, a paciente only self. `?q=` searches " +
    "nome and email in Portuguese (accents, stems) and tolerates a typo in the name; results are " +
    "ranked. Without `q`, newest first. Cursor pages: pass `next_cursor` back as `cursor`.",
  security: bearerSecurity,
  request: { query: ListPacientesQuery },
  responses: {
    200: { description: "A page of pacientes", content: { "application/json": { schema: PacientePage } } },
    ...errorResponses(),
  },
});

const ListCursor = z.object({ at: z.string().min(1).max(64), id: z.uuid() });
const SearchCursor = z.object({ rank: z.number(), id: z.uuid() });

export function registerListPacientes(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const { q, status, limit, cursor } = c.req.valid("query");
    const db = c.get("db");
    if (q) {
      const after = cursor ? decodeCursor(cursor, SearchCursor) : undefined;
      const [rows] = await db.batch<[(PacienteRow & { search_id: string; rank: number })[]]>(
        (sql) => [sql(PACIENTES_SEARCH, [q, limit, after?.rank ?? null, after?.id ?? null, status ?? null])],
        { readOnly: true },
      );
      // A full page from the search function may have more behind it, filtered rows included.
      const last = rows.length === limit ? rows[rows.length - 1] : undefined;
      return c.json(
        {
          data: rows.filter((r) => r.id !== null).map(toPaciente),
          next_cursor: last ? encodeCursor({ rank: last.rank, id: last.search_id }) : null,
        },
        200,
      );
    }
    const after = cursor ? decodeCursor(cursor, ListCursor) : undefined;
    const [rows] = await db.batch<[(PacienteRow & { cursor_at: string })[]]>(
      (sql) => [sql(PACIENTES_LIST, [status ?? null, after?.at ?? null, after?.id ?? null, limit + 1])],
      { readOnly: true },
    );
    const page = rows.slice(0, limit);
    const last = rows.length > limit ? page[page.length - 1] : undefined;
    return c.json(
      {
        data: page.map(toPaciente),
        next_cursor: last ? encodeCursor({ at: last.cursor_at, id: last.id }) : null,
      },
      200,
    );
  });
}
