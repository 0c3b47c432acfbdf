/**
 * Prontuarios (clinical records) as the API shows and takes them: snake_case, as in the database.
 * Append-only: a correction is a new version naming the one it corrects; nothing is ever changed.
 */
import { z } from "@hono/zod-openapi";
import type { ProntuarioRow } from "../../../db/queries/prontuarios";
import { pageOf } from "../openapi";

export const Prontuario = z
  .object({
    id: z.uuid(),
    paciente_id: z.uuid(),
    fisioterapeuta_id: z.uuid().openapi({ description: "Who wrote this version" }),
    consulta_id: z.uuid().nullable(),
    versao: z.int().min(1).openapi({ description: "1 for a new record, the corrected version's + 1" }),
    corrige_id: z.uuid().nullable().openapi({ description: "The version this one corrects" }),
    corrigido_por_id: z
      .uuid()
      .nullable()
      .openapi({ description: "The version that corrects this one; null while it is the latest" }),
    conteudo: z.string(),
    created_at: z.iso.datetime(),
  })
  .openapi("Prontuario");
export type Prontuario = z.infer<typeof Prontuario>;

export const ProntuarioPage = pageOf(Prontuario, "ProntuarioPage");

export const CreateProntuario = z
  .object({
    paciente_id: z.uuid(),
    consulta_id: z
      .uuid()
      .optional()
      .openapi({ description: "A consulta of this paciente; a correction keeps the corrected one's" }),
    corrige_id: z.uuid().optional().openapi({
      description: "To correct a record: the id of its latest version (each version is corrected once)",
    }),
    conteudo: z
      .string()
      .trim()
      .min(1)
      .max(50_000)
      // PostgreSQL text cannot hold NUL: refused here as bad input, not by the database as a 500.
      .refine((s) => !s.includes("\u0000"), "must not contain NUL characters"),
  })
  .strict()
  .openapi("CreateProntuario");

export const ListProntuariosQuery = z.object({
  paciente_id: z.uuid().openapi({ description: "Whose prontuarios (required)" }),
  versions: z.enum(["latest", "all"]).default("latest").openapi({
    description: "`latest` (default): each record's current version only; `all`: every version",
  }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(300).optional(),
});

export function toProntuario(r: ProntuarioRow): Prontuario {
  return {
    id: r.id,
    paciente_id: r.paciente_id,
    fisioterapeuta_id: r.fisioterapeuta_id,
    consulta_id: r.consulta_id,
    versao: r.versao,
    corrige_id: r.corrige_id,
    corrigido_por_id: r.corrigido_por_id,
    conteudo: r.conteudo,
    created_at: r.created_at.toISOString(),
  };
}
