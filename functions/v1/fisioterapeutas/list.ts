import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { FISIOTERAPEUTAS_LIST, type FisioterapeutaRow } from "../../../db/queries/fisioterapeutas";
import type { V1Env } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses } from "../openapi";
import { FisioterapeutaPage, ListFisioterapeutasQuery, toFisioterapeuta } from "./schema";

const route = createRoute({
  method: "get",
  path: "/fisioterapeutas",
  tags: ["fisioterapeutas"],
  summary: "List the fisioterapeutas (admin)",
  description:
    "Admins only: the clinic's staff directory. (A fisioterapeuta or paciente reads the one " +
    "fisioterapeuta they may see with GET /v1/fisioterapeutas/{id}.) Newest first; cursor pages: " +
    "pass `next_cursor` back as `cursor`.",
  security: bearerSecurity,
  request: { query: ListFisioterapeutasQuery },
  responses: {
    200: {
      description: "A page of fisioterapeutas",
      content: { "application/json": { schema: FisioterapeutaPage } },
    },
    ...errorResponses(403),
  },
});

const ListCursor = z.object({ at: z.string().min(1).max(64), id: z.uuid() });

export function registerListFisioterapeutas(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const { limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, ListCursor) : undefined;
    const [rows] = await c
      .get("db")
      .batch<[(FisioterapeutaRow & { cursor_at: string })[]]>(
        (sql) => [sql(FISIOTERAPEUTAS_LIST, [after?.at ?? null, after?.id ?? null, limit + 1])],
        { readOnly: true },
      );
    const page = rows.slice(0, limit);
    const last = rows.length > limit ? page[page.length - 1] : undefined;
    return c.json(
      {
        data: page.map(toFisioterapeuta),
        next_cursor: last ? encodeCursor({ at: last.cursor_at, id: last.id }) : null,
      },
      200,
    );
  });
}
