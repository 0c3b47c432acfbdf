/**
 * Prontuario attachments as the API shows them: what describes the file, never where R2 keeps it.
 */
import { z } from "@hono/zod-openapi";
import type { AnexoRow } from "../../../db/queries/anexos";
import { IdempotencyKeyHeader } from "../openapi";
import { ANEXO_CONTENT_TYPES, NOME_ARQUIVO_HEADER } from "./limits";

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

/** The file's name once decoded: what the table keeps and the download's Content-Disposition shows. */
const NomeArquivo = z
  .string()
  .min(1)
  .max(200)
  .refine((s) => !/[/\\]/.test(s), "must not contain / or \\")
  .refine((s) => !UNSAFE_IN_NAME.test(s), "must not contain control characters")
  .refine((s) => s.trim() !== "" && !/^\.+$/.test(s.trim()), "must name a file");

/**
 * The longest encodeURIComponent makes of a valid name: a UTF-16 unit of a BMP character takes at
 * most three UTF-8 bytes, nine characters (`€` is `%E2%82%AC`); an astral one, two units for
 * twelve characters. Refused before decoding anything longer.
 */
const MAX_ENCODED_NAME = 200 * 9;

/**
 * The upload's headers: its file name in X-Nome-Arquivo, never in the URL (file names may name the
 * paciente, and URLs end up in Workers Logs, proxy logs and browser history, where anonymisation
 * cannot reach them). Percent-encoded UTF-8, since header values are ASCII; decoded here, so
 * `c.req.valid("header")["x-nome-arquivo"]` is the name itself.
 */
export const UploadAnexoHeaders = IdempotencyKeyHeader.extend({
  // Lower case: hono hands the header validator lower-cased names.
  "x-nome-arquivo": z
    .string()
    .max(MAX_ENCODED_NAME)
    .transform((encoded, ctx) => {
      try {
        return decodeURIComponent(encoded);
      } catch {
        ctx.addIssue({
          code: "custom",
          message: `${NOME_ARQUIVO_HEADER} must be the file name percent-encoded as UTF-8 (encodeURIComponent)`,
        });
        return z.NEVER;
      }
    })
    .pipe(NomeArquivo)
    .openapi({
      param: { name: "x-nome-arquivo", in: "header" },
      description:
        "The file's name, percent-encoded as UTF-8 (what `encodeURIComponent` makes): 1 to 200 " +
        "characters once decoded, no path separators or control characters. Never in the URL.",
      example: "raio-x%20joelho%20direito.pdf",
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
