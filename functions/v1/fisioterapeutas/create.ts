import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { type FisioterapeutaRow, insertFisioterapeuta } from "../../../db/queries/fisioterapeutas";
import type { V1Env } from "../context";
import { etagOf } from "../etag";
import { allowRoles } from "../guards";
import { bearerSecurity, created, errorResponses, IdempotencyKeyHeader } from "../openapi";
import { CreateFisioterapeuta, Fisioterapeuta, toFisioterapeuta } from "./schema";

const route = createRoute({
  method: "post",
  path: "/fisioterapeutas",
  tags: ["fisioterapeutas"],
  summary: "Register a fisioterapeuta (admin)",
  description:
    "Admins only. The answer's `id` is the `sub` the identity provider must put in this " +
    "fisioterapeuta's tokens. An email that cannot be registered answers a generic 409, " +
    "rate-limited per user.",
  security: bearerSecurity,
  request: {
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: CreateFisioterapeuta } } },
  },
  responses: {
    201: created(Fisioterapeuta, "Registered"),
    ...errorResponses(403, 409),
  },
});

export function registerCreateFisioterapeuta(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const { text, params } = insertFisioterapeuta(c.req.valid("json"));
    const [[row]] = await c.get("db").batch<[FisioterapeutaRow[]]>((sql) => [sql(text, params)]);
    c.header("ETag", etagOf(row!.version));
    c.header("Location", `/v1/fisioterapeutas/${row!.id}`);
    return c.json(toFisioterapeuta(row!), 201);
  });
}
