import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { type ConsultaRow, insertConsulta } from "../../../db/queries/consultas";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { etagOf } from "../etag";
import { allowRoles, fisioterapeutaFor } from "../guards";
import { bearerSecurity, created, errorResponses, IdempotencyKeyHeader } from "../openapi";
import { Consulta, CreateConsulta, toConsulta } from "./schema";

const route = createRoute({
  method: "post",
  path: "/consultas",
  tags: ["consultas"],
  summary: "Book a consulta",
  description:
    "A fisioterapeuta books for their own pacientes, in their own name; an admin names the " +
    "fisioterapeuta. The paciente must be active and visible to the caller (else 422). A time that " +
    "overlaps another consulta of the same fisioterapeuta answers 409 `slot_taken`: the database " +
    "decides, so two concurrent bookings of one slot can never both succeed.",
  security: bearerSecurity,
  request: {
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: CreateConsulta } } },
  },
  responses: {
    201: created(Consulta, "Booked (status `agendada`)"),
    ...errorResponses(403, 409, 422),
  },
});

export function registerCreateConsulta(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const auth = c.get("auth");
    allowRoles(auth, "admin", "fisioterapeuta");
    const body = c.req.valid("json");
    const fisioterapeutaId = fisioterapeutaFor(auth, body.fisioterapeuta_id);
    const { text, params } = insertConsulta({ ...body, fisioterapeuta_id: fisioterapeutaId });
    const [[row]] = await c.get("db").batch<[ConsultaRow[]]>((sql) => [sql(text, params)]);
    if (!row) {
      // Missing, inactive or another clinic's: one answer, so it reveals nothing.
      throw new ApiError("unprocessable_entity", "paciente_id names no active paciente you can book for", [
        { path: "paciente_id", message: "no such active paciente" },
      ]);
    }
    c.header("ETag", etagOf(row.version));
    c.header("Location", `/v1/consultas/${row.id}`);
    return c.json(toConsulta(row), 201);
  });
}
