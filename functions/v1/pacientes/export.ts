import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { EXPORT_AUDIT, PACIENTE_EXPORT } from "../../../db/queries/pacientes";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdParam } from "../openapi";

const StoredRow = z.record(z.string(), z.unknown());
const PacienteExport = z
  .object({
    exported_at: z.iso.datetime(),
    paciente: StoredRow,
    consultas: z.array(StoredRow),
    prontuarios: z.array(StoredRow),
    prescricoes: z.array(StoredRow),
    /** The attachments' metadata (the storage key left out); the bytes: GET /v1/anexos/{id}/conteudo. */
    anexos: z.array(StoredRow),
  })
  .openapi("PacienteExport");

const route = createRoute({
  method: "get",
  path: "/pacientes/{id}/export",
  tags: ["pacientes", "lgpd"],
  summary: "All of a paciente's data as one JSON document (LGPD)",
  description:
    "For an admin, or the paciente for self. Every record as stored, clinical ones included; the " +
    "read of the prontuarios is written to the audit log like any other. `anexos` lists the " +
    "attachments' metadata (file name, type, size, SHA-256); the paciente downloads each file with " +
    "GET /v1/anexos/{id}/conteudo.",
  security: bearerSecurity,
  request: { params: IdParam },
  responses: {
    200: { description: "The paciente's data", content: { "application/json": { schema: PacienteExport } } },
    ...errorResponses(403, 404),
  },
});

export function registerExportPaciente(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    const auth = c.get("auth");
    allowRoles(auth, "admin", "paciente");
    const { id } = c.req.valid("param");
    if (auth.role === "paciente" && auth.userId !== id) throw new ApiError("not_found", "No such paciente");
    // One round trip: the document and the audit of what it read, in one transaction.
    const [[row]] = await c
      .get("db")
      .batch<[{ doc: z.infer<typeof PacienteExport> }[], unknown[]]>(
        (sql) => [sql(PACIENTE_EXPORT, [id]), sql(EXPORT_AUDIT, [id])],
        { auditedRead: true },
      );
    if (!row?.doc.paciente) throw new ApiError("not_found", "No such paciente");
    c.header("Content-Disposition", `attachment; filename="paciente-${id}.json"`);
    return c.json({ ...row.doc, exported_at: new Date().toISOString() }, 200);
  });
}
