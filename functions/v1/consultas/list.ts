import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { type ConsultaRow, listConsultas } from "../../../db/queries/consultas";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { bearerSecurity, errorResponses } from "../openapi";
import { ConsultaPage, DEFAULT_RANGE_DAYS, ListConsultasQuery, MAX_RANGE_DAYS, toConsulta } from "./schema";

const route = createRoute({
  method: "get",
  path: "/consultas",
  tags: ["consultas"],
  summary: "List the consultas the caller may see in a date range",
  description:
    "Admins see every consulta, a fisioterapeuta those of their pacientes, a paciente their own. " +
    `Always over a range [from, to) of data_consulta, at most ${MAX_RANGE_DAYS} days (default: ` +
    `${DEFAULT_RANGE_DAYS} days from today 00:00 UTC), so only the months in it are read. Oldest ` +
    "first; cursor pages: pass `next_cursor` back as `cursor` with the same filters. An offset " +
    "with `+` must be sent URL-encoded (`%2B`).",
  security: bearerSecurity,
  request: { query: ListConsultasQuery },
  responses: {
    200: { description: "A page of consultas", content: { "application/json": { schema: ConsultaPage } } },
    ...errorResponses(),
  },
});

const ListCursor = z.object({ at: z.string().min(1).max(64), id: z.uuid() });
const DAY_MS = 24 * 3600 * 1000;

/** The [from, to) the query reads: never unbounded, so partition pruning always applies. */
export function listRange(from: string | undefined, to: string | undefined, now: Date) {
  const start = from
    ? Date.parse(from)
    : to
      ? Date.parse(to) - DEFAULT_RANGE_DAYS * DAY_MS
      : Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const end = to ? Date.parse(to) : start + DEFAULT_RANGE_DAYS * DAY_MS;
  if (end <= start) {
    throw new ApiError("bad_request", "`to` must be after `from`", [
      { path: "to", message: "not after from" },
    ]);
  }
  if (end - start > MAX_RANGE_DAYS * DAY_MS) {
    throw new ApiError("bad_request", `The range may span at most ${MAX_RANGE_DAYS} days`, [
      { path: "to", message: `more than ${MAX_RANGE_DAYS} days after from` },
    ]);
  }
  // Exact instants from the caller are passed through (microseconds included).
  return { from: from ?? new Date(start).toISOString(), to: to ?? new Date(end).toISOString() };
}

export function registerListConsultas(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const range = listRange(q.from, q.to, c.get("services").clock.now());
    const after = q.cursor ? decodeCursor(q.cursor, ListCursor) : undefined;
    const { text, params } = listConsultas({
      ...range,
      paciente_id: q.paciente_id,
      fisioterapeuta_id: q.fisioterapeuta_id,
      status: q.status,
      after,
      limit: q.limit + 1,
    });
    const [rows] = await c
      .get("db")
      .batch<[(ConsultaRow & { cursor_at: string })[]]>((sql) => [sql(text, params)], { readOnly: true });
    const page = rows.slice(0, q.limit);
    const last = rows.length > q.limit ? page[page.length - 1] : undefined;
    return c.json(
      {
        data: page.map(toConsulta),
        next_cursor: last ? encodeCursor({ at: last.cursor_at, id: last.id }) : null,
      },
      200,
    );
  });
}
