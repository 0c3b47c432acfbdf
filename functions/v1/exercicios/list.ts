import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { EXERCICIOS_LIST, type ExercicioRow } from "../../../db/queries/exercicios";
import type { V1Env } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { bearerSecurity, errorResponses } from "../openapi";
import { catalogCache } from "./cache";
import { ExercicioPage, ListExerciciosQuery, toExercicio } from "./schema";

const route = createRoute({
  method: "get",
  path: "/exercicios",
  tags: ["exercicios"],
  summary: "The exercise catalog",
  description:
    "Every role reads the whole catalog. Alphabetical by nome; `?categoria=` keeps one categoria " +
    "(exact match). Cursor pages: pass `next_cursor` back as `cursor`. Served from a cache that " +
    "every write through this API clears.",
  security: bearerSecurity,
  request: { query: ListExerciciosQuery },
  responses: {
    200: { description: "A page of exercicios", content: { "application/json": { schema: ExercicioPage } } },
    ...errorResponses(),
  },
});

// The nome travels percent-encoded: the shared cursor encoding (btoa) takes Latin-1 only.
const ListCursor = z.object({
  n: z
    .string()
    .min(1)
    .max(3000)
    .transform((s, ctx) => {
      try {
        const nome = decodeURIComponent(s);
        if (!nome.includes("\u0000")) return nome;
      } catch {
        // falls through to the issue
      }
      ctx.addIssue({ code: "custom", message: "not a nome this API encoded" });
      return z.NEVER;
    }),
  id: z.uuid(),
});

export function registerListExercicios(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const { categoria, limit, cursor } = c.req.valid("query");
    // Decoded before the cache: a bad cursor is a 400, never a cached answer.
    const after = cursor ? decodeCursor(cursor, ListCursor) : undefined;
    const afterNome = after?.n ?? null;
    const cache = await catalogCache(c);
    const page = await cache.page([categoria ?? null, limit, afterNome, after?.id ?? null], async () => {
      const [rows] = await c.get("db").batch<[ExercicioRow[]]>(
        (sql) => [sql(EXERCICIOS_LIST, [categoria ?? null, afterNome, after?.id ?? null, limit + 1])],
        // From the primary: this page fills a cache every role reads (a lagging replica would
        // put back what a write just invalidated).
        { readOnly: true, primary: true },
      );
      const data = rows.slice(0, limit);
      const last = rows.length > limit ? data[data.length - 1] : undefined;
      return {
        data: data.map(toExercicio),
        next_cursor: last ? encodeCursor({ n: encodeURIComponent(last.nome), id: last.id }) : null,
      } satisfies ExercicioPage;
    });
    return c.json(page, 200);
  });
}
