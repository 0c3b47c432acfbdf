import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { type ExercicioRow, INSERT_EXERCICIO } from "../../../db/queries/exercicios";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdempotencyKeyHeader } from "../openapi";
import { catalogCache } from "./cache";
import { CreateExercicio, Exercicio, toExercicio } from "./schema";

const route = createRoute({
  method: "post",
  path: "/exercicios",
  tags: ["exercicios"],
  summary: "Add an exercicio to the catalog (admin, fisioterapeuta)",
  description:
    "Admins and fisioterapeutas add to the shared catalog; pacientes may not. Names are unique: a " +
    "taken nome answers 409.",
  security: bearerSecurity,
  request: {
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: CreateExercicio } } },
  },
  responses: {
    201: { description: "Added", content: { "application/json": { schema: Exercicio } } },
    ...errorResponses(403, 409),
  },
});

export function registerCreateExercicio(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin", "fisioterapeuta");
    const { nome, descricao, categoria } = c.req.valid("json");
    const [[row]] = await c
      .get("db")
      .batch<[ExercicioRow[]]>((sql) => [sql(INSERT_EXERCICIO, [nome, descricao ?? null, categoria])]);
    await (await catalogCache(c)).invalidate();
    return c.json(toExercicio(row!), 201);
  });
}
