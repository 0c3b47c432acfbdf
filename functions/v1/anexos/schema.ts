/**
 * Prontuario attachments as the API shows them: what describes the file, never where R2 keeps it.
 */
import { z } from "@hono/zod-openapi";
import type { AnexoRow } from "../../../db/queries/anexos";
import { ANEXO_CONTENT_TYPES } from "./limits";

export const Anexo = z
  .object({
    id: z.uuid(),
    prontuario_id: z.uuid(),
    fisioterapeuta_id: z.uuid().openapi({ description: "Who attached it" }),
    nome_arquivo: z
      .string()
      .nullable()
      .openapi({ description: "The file's name as uploaded; null once the paciente is anonymised" }),
    content_type: z.enum(ANEXO_CONTENT_TYPES),
    tamanho: z.int().min(1).openapi({ description: "Bytes" }),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .openapi({ description: "Hex SHA-256 of the bytes" }),
    created_at: z.iso.datetime(),
  })
  .openapi("Anexo");
export type Anexo = z.infer<typeof Anexo>;

export const AnexoPage = z
  .object({
    data: z.array(Anexo),
    next_cursor: z
      .string()
      .nullable()
      .openapi({ description: "Pass as ?cursor= for the next page; null on the last" }),
  })
  .openapi("AnexoPage");

// Control characters (C0, DEL, C1) and the bidirectional overrides that can make a name ending in
// "fdp.exe" display as one ending in "exe.pdf".
const UNSAFE_IN_NAME = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

export const UploadAnexoQuery = z.object({
  nome: z
    .string()
    .min(1)
    .max(200)
    .refine((s) => !/[/\\]/.test(s), "must not contain / or \\")
    .refine((s) => !UNSAFE_IN_NAME.test(s), "must not contain control characters")
    .refine((s) => s.trim() !== "" && !/^\.+$/.test(s.trim()), "must name a file")
    .openapi({
      param: { name: "nome", in: "query" },
      description: "The file's name (1 to 200 characters, no path separators or control characters)",
      example: "raio-x-joelho.pdf",
    }),
});

export const ListAnexosQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(300).optional(),
});

export function toAnexo(r: AnexoRow): Anexo {
  return {
    id: r.id,
    prontuario_id: r.prontuario_id,
    fisioterapeuta_id: r.fisioterapeuta_id,
    nome_arquivo: r.nome_arquivo,
    content_type: r.content_type as Anexo["content_type"],
    tamanho: r.tamanho,
    sha256: r.sha256,
    created_at: r.created_at.toISOString(),
  };
}
