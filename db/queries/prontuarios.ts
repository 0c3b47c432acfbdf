/**
 * The SQL of the prontuarios routes, run through the caller-scoped handle (db/caller.ts): RLS
 * decides what each caller sees (admin, the paciente's fisioterapeuta, the paciente) and who may
 * write (the paciente's fisioterapeuta, in their own name). prontuarios is append-only: a
 * correction is a new row naming the one it corrects (`corrige_id`); the database numbers it
 * (`versao`, trigger app.prontuarios_versionar) and refuses any UPDATE or DELETE.
 *
 * Every read passes the ids it returns to audit.registrar_leitura IN THE SAME STATEMENT: the ids
 * come from the caller's RLS-filtered rows, so the log never records a row the caller did not
 * see, and the read and its audit row commit together or not at all. That function INSERTs, so
 * these reads cannot run in a READ ONLY transaction.
 */

/** `c` is the row that corrects `p`, if any (corrige_id is UNIQUE: at most one). */
const FROM_PRONTUARIOS = `public.prontuarios p LEFT JOIN public.prontuarios c ON c.corrige_id = p.id`;

/**
 * The version for ETag / If-None-Match: the row itself never changes, but its answer does once it
 * is corrected (`corrigido_por_id`), so the correction's id is part of it.
 */
const PRONTUARIO_COLUMNS = `p.id, p.paciente_id, p.fisioterapeuta_id, p.consulta_id, p.versao, p.corrige_id,
  c.id AS corrigido_por_id, p.conteudo, p.created_at,
  p.updated_at::text || coalesce(' ' || c.id::text, '') AS version`;

export interface ProntuarioRow {
  id: string;
  paciente_id: string;
  fisioterapeuta_id: string;
  consulta_id: string | null;
  versao: number;
  corrige_id: string | null;
  corrigido_por_id: string | null;
  conteudo: string;
  created_at: Date;
  version: string;
}

/**
 * A new record or a correction, in the caller's name, only if the paciente is visible to the
 * caller (RLS on pacientes: their own), the consulta (when given) is one of that paciente's, and
 * the corrected row (when given) is one of that paciente's prontuarios; else no row (see
 * PRONTUARIO_INSERT_CHECK for which). A correction without consulta_id keeps the corrected row's.
 * $1 paciente_id, $2 consulta_id or NULL, $3 corrige_id or NULL, $4 conteudo.
 */
export const INSERT_PRONTUARIO = `
INSERT INTO public.prontuarios AS p (paciente_id, fisioterapeuta_id, consulta_id, corrige_id, conteudo)
SELECT pa.id, app.user_id(),
       coalesce($2::uuid, (SELECT x.consulta_id FROM public.prontuarios x WHERE x.id = $3::uuid)),
       $3::uuid, $4::text
  FROM public.pacientes pa
 WHERE pa.id = $1::uuid
   AND ($2::uuid IS NULL OR EXISTS (
         SELECT 1 FROM public.consultas k WHERE k.id = $2::uuid AND k.paciente_id = pa.id))
   AND ($3::uuid IS NULL OR EXISTS (
         SELECT 1 FROM public.prontuarios x WHERE x.id = $3::uuid AND x.paciente_id = pa.id))
RETURNING p.id, p.paciente_id, p.fisioterapeuta_id, p.consulta_id, p.versao, p.corrige_id,
          NULL::uuid AS corrigido_por_id, p.conteudo, p.created_at, p.updated_at::text AS version`;

/** After INSERT_PRONTUARIO wrote nothing: which condition failed ($1 to $3 as there). */
export const PRONTUARIO_INSERT_CHECK = `
SELECT EXISTS (SELECT 1 FROM public.pacientes pa WHERE pa.id = $1::uuid) AS paciente,
       ($2::uuid IS NULL OR EXISTS (
         SELECT 1 FROM public.consultas k WHERE k.id = $2::uuid AND k.paciente_id = $1::uuid)) AS consulta,
       ($3::uuid IS NULL OR EXISTS (
         SELECT 1 FROM public.prontuarios x WHERE x.id = $3::uuid AND x.paciente_id = $1::uuid)) AS corrigido`;

/** One prontuario, its read audited. $1 id. */
export const PRONTUARIO_BY_ID = `
WITH linha AS (
  SELECT ${PRONTUARIO_COLUMNS} FROM ${FROM_PRONTUARIOS} WHERE p.id = $1::uuid
), lida AS (
  SELECT audit.registrar_leitura('prontuarios', ARRAY(SELECT l.id FROM linha l)) AS n
)
SELECT linha.* FROM linha CROSS JOIN lida`;

/**
 * A paciente's prontuarios, newest first, keyset-paged on (created_at, id). Fetches one row more
 * than the page to know whether more follow; only the page's rows are audited.
 * $1 paciente_id, $2 all versions (true) or only those not corrected (false), $3/$4 the cursor or
 * NULLs, $5 the page size.
 */
export const PRONTUARIOS_LIST = `
WITH pagina AS (
  SELECT ${PRONTUARIO_COLUMNS}, p.created_at::text AS cursor_at
    FROM ${FROM_PRONTUARIOS}
   WHERE p.paciente_id = $1::uuid
     AND ($2::boolean OR c.id IS NULL)
     AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3::timestamptz, $4::uuid))
   ORDER BY p.created_at DESC, p.id DESC
   LIMIT $5::integer + 1
), lidas AS (
  SELECT audit.registrar_leitura('prontuarios', ARRAY(
    SELECT g.id FROM pagina g ORDER BY g.created_at DESC, g.id DESC LIMIT $5::integer)) AS n
)
SELECT pagina.* FROM pagina CROSS JOIN lidas ORDER BY pagina.created_at DESC, pagina.id DESC`;
