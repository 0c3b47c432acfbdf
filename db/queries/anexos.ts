/**
 * The SQL of the anexos routes (prontuario attachments, 0018), run through the caller-scoped
 * handle (db/caller.ts): RLS decides who sees an attachment (the paciente's fisioterapeuta, the
 * paciente, admins) and who may attach one (the paciente's fisioterapeuta, in their own name).
 * The bytes are in R2 under `r2_key`; the API never shows that key.
 *
 * A download reads the row and records the READ in the same statement (as PRONTUARIO_BY_ID
 * does): the id comes from the caller's RLS-filtered row, and the read and its audit row commit
 * together. Listing shows descriptions only and is not audited; fetching the bytes is.
 */

export interface AnexoRow {
  id: string;
  prontuario_id: string;
  fisioterapeuta_id: string;
  nome_arquivo: string | null;
  content_type: string;
  tamanho: number;
  sha256: string;
  created_at: Date;
}

/** What the API shows of a row (never r2_key). `tamanho` as float8: a JS number, not bigint text. */
const ANEXO_COLUMNS = `a.id, a.prontuario_id, a.fisioterapeuta_id, a.nome_arquivo, a.content_type,
  a.tamanho::float8 AS tamanho, a.sha256, a.created_at`;

/**
 * Whether the caller may attach to prontuario $1: it is visible to them (RLS: their paciente's,
 * for a fisioterapeuta). Asked before any byte goes to R2.
 */
export const ANEXO_PRONTUARIO_VISIVEL = `
SELECT EXISTS (SELECT 1 FROM public.prontuarios p WHERE p.id = $1::uuid) AS visivel`;

/**
 * A new attachment in the caller's name, for prontuario $2 if the caller can see it (else no
 * row), the paciente copied from the prontuario. The database keeps created_at.
 * $1 id, $2 prontuario_id, $3 nome_arquivo, $4 content_type, $5 tamanho, $6 sha256, $7 r2_key.
 */
export const INSERT_ANEXO = `
INSERT INTO public.anexos AS a
  (id, prontuario_id, paciente_id, fisioterapeuta_id, nome_arquivo, content_type, tamanho, sha256, r2_key)
SELECT $1::uuid, p.id, p.paciente_id, app.user_id(), $3::text, $4::text, $5::bigint, $6::text, $7::text
  FROM public.prontuarios p
 WHERE p.id = $2::uuid
RETURNING ${ANEXO_COLUMNS}`;

/**
 * A prontuario's attachments, oldest first, keyset-paged on (created_at, id); one row more than
 * the page tells whether more follow. $1 prontuario_id, $2/$3 the cursor or NULLs, $4 page size.
 */
export const ANEXOS_LIST = `
SELECT ${ANEXO_COLUMNS}, a.created_at::text AS cursor_at
  FROM public.anexos a
 WHERE a.prontuario_id = $1::uuid
   AND ($2::timestamptz IS NULL OR (a.created_at, a.id) > ($2::timestamptz, $3::uuid))
 ORDER BY a.created_at, a.id
 LIMIT $4::integer + 1`;

/** One attachment for its download, with its R2 key, the read audited. $1 id. */
export const ANEXO_PARA_DOWNLOAD = `
WITH linha AS (
  SELECT ${ANEXO_COLUMNS}, a.r2_key FROM public.anexos a WHERE a.id = $1::uuid
), lida AS (
  SELECT audit.registrar_leitura('anexos', ARRAY(SELECT l.id FROM linha l)) AS n
)
SELECT linha.* FROM linha CROSS JOIN lida`;
