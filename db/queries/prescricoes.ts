/**
 * The SQL of the prescricoes routes (a paciente's prescribed exercicios), run through the
 * caller-scoped handle (db/caller.ts): RLS lets admins and the paciente's fisioterapeuta read and
 * write, and the paciente read own. Every statement selects the same columns, with the exercicio's
 * nome, the dates as text (dates, not instants) and `updated_at::text` as the row's version (ETag
 * / If-Match, microseconds included).
 */
const PRESCRICAO_COLUMNS = `r.id, r.paciente_id, r.exercicio_id, e.nome AS exercicio_nome, r.fisioterapeuta_id,
  r.series, r.repeticoes, r.frequencia, r.observacoes, r.inicio::text AS inicio, r.fim::text AS fim, r.ativa,
  r.created_at, r.updated_at, r.updated_at::text AS version`;

export interface PrescricaoRow {
  id: string;
  paciente_id: string;
  exercicio_id: string;
  exercicio_nome: string;
  fisioterapeuta_id: string;
  series: number;
  repeticoes: number;
  frequencia: string;
  observacoes: string | null;
  inicio: string;
  fim: string | null;
  ativa: boolean;
  created_at: Date;
  updated_at: Date;
  version: string;
}

/** Columns a PATCH may set, as the API names them (the same as the table's). */
export const PRESCRICAO_WRITABLE = [
  "series",
  "repeticoes",
  "frequencia",
  "observacoes",
  "inicio",
  "fim",
  "ativa",
] as const;
export type PrescricaoWritable = (typeof PRESCRICAO_WRITABLE)[number];

/**
 * A prescription for a paciente the caller may see (RLS on pacientes), in the name of the
 * paciente's fisioterapeuta (the caller, for a fisioterapeuta; for an admin, the one responsible
 * for the paciente). No row when the paciente is not visible; an unknown exercicio is a 23503.
 * $1 paciente_id, $2 exercicio_id, $3 series, $4 repeticoes, $5 frequencia, $6 observacoes,
 * $7 inicio, $8 fim.
 */
export const INSERT_PRESCRICAO = `
WITH nova AS (
  INSERT INTO public.prescricoes AS r
         (paciente_id, fisioterapeuta_id, exercicio_id, series, repeticoes, frequencia, observacoes, inicio, fim)
  SELECT pa.id, pa.fisioterapeuta_id, $2::uuid, $3::integer, $4::integer, $5::text, $6::text, $7::date, $8::date
    FROM public.pacientes pa
   WHERE pa.id = $1::uuid
  RETURNING r.*
)
SELECT ${PRESCRICAO_COLUMNS} FROM nova r JOIN public.exercicios e ON e.id = r.exercicio_id`;

export const PRESCRICAO_BY_ID = `
SELECT ${PRESCRICAO_COLUMNS}
  FROM public.prescricoes r JOIN public.exercicios e ON e.id = r.exercicio_id
 WHERE r.id = $1::uuid`;

/**
 * A paciente's prescricoes, newest first, keyset-paged on (created_at, id).
 * $1 paciente_id, $2 ativa or NULL (both), $3/$4 the cursor or NULLs, $5 the page size + 1.
 */
export const PRESCRICOES_LIST = `
SELECT ${PRESCRICAO_COLUMNS}, r.created_at::text AS cursor_at
  FROM public.prescricoes r JOIN public.exercicios e ON e.id = r.exercicio_id
 WHERE r.paciente_id = $1::uuid
   AND ($2::boolean IS NULL OR r.ativa = $2::boolean)
   AND ($3::timestamptz IS NULL OR (r.created_at, r.id) < ($3::timestamptz, $4::uuid))
 ORDER BY r.created_at DESC, r.id DESC
 LIMIT $5::integer`;

/**
 * UPDATE of the given columns, only if the row's version is still `version` (when given): one
 * statement, so no write can slip between the check and the update. Column names come from
 * PRESCRICAO_WRITABLE only, never from input.
 */
export function updatePrescricao(
  id: string,
  values: Partial<Record<PrescricaoWritable, unknown>>,
  version?: string,
) {
  const cols = Object.keys(values).filter((k): k is PrescricaoWritable =>
    (PRESCRICAO_WRITABLE as readonly string[]).includes(k),
  );
  const sets = cols.map((c, i) => `${c} = $${i + 3}`);
  return {
    text: `
WITH alterada AS (
  UPDATE public.prescricoes AS r SET ${sets.join(", ")}
   WHERE r.id = $1::uuid AND ($2::timestamptz IS NULL OR r.updated_at = $2::timestamptz)
  RETURNING r.*
)
SELECT ${PRESCRICAO_COLUMNS} FROM alterada r JOIN public.exercicios e ON e.id = r.exercicio_id`,
    params: [id, version ?? null, ...cols.map((c) => values[c])],
  };
}

/** After a conditional write: does the row exist for this caller (412 vs 404)? */
export const PRESCRICAO_VERSION =
  "SELECT r.updated_at::text AS version FROM public.prescricoes r WHERE r.id = $1::uuid";
