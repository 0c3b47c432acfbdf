import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { insertPaciente, type PacienteRow } from "../../../db/queries/pacientes";
import type { V1Env } from "../context";
import { etagOf } from "../etag";
import { allowRoles, fisioterapeutaFor } from "../guards";
import { bearerSecurity, created, errorResponses, IdempotencyKeyHeader } from "../openapi";
import { CreatePaciente, Paciente, toPaciente } from "./schema";

const route = createRoute({
  method: "post",
  path: "/pacientes",
  tags: ["pacientes"],
  summary: "Register a paciente",
  description:
    "Admins name the fisioterapeuta; a fisioterapeuta registers pacientes of their own. An email or " +
    "CPF that cannot be registered answers a generic 409 (uniqueness is global, so the answer never " +
    "says where the value exists), and those answers are rate-limited per user.",
  security: bearerSecurity,
  request: {
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: CreatePaciente } } },
  },
  responses: {
    201: created(Paciente, "Registered"),
    ...errorResponses(403, 409, 422),
  },
});

export function registerCreatePaciente(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const auth = c.get("auth");
    allowRoles(auth, "admin", "fisioterapeuta");
    const body = c.req.valid("json");
    const fisioterapeutaId = fisioterapeutaFor(auth, body.fisioterapeuta_id);
    const { text, params } = insertPaciente({ ...body, fisioterapeuta_id: fisioterapeutaId });
    const [[row]] = await c.get("db").batch<[PacienteRow[]]>((sql) => [sql(text, params)]);
    c.header("ETag", etagOf(row!.version));
    c.header("Location", `/v1/pacientes/${row!.id}`);
    return c.json(toPaciente(row!), 201);
  });
}
