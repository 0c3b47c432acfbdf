/**
 * The SQL of the pacientes routes, run through the caller-scoped handle (db/caller.ts): RLS
 * decides what each caller sees and may write. Every statement selects the same columns, with
 * `data_nascimento` as text (a date, not an instant) and `updated_at::text` as the row's version
 * (ETag / If-Match, microseconds included).
 */
export const PACIENTE_COLUMNS = `p.id, p.nome, p.email, p.telefone, p.data_nascimento::text AS data_nascimento,
  p.cpf, p.status, p.fisioterapeuta_id, p.created_at, p.updated_at, p.updated_at::text AS version`;

export interface PacienteRow {
  id: string;
  nome: string;
  email: string | null;
  telefone: string | null;
  data_nascimento: string | null;
  cpf: string | null;
  status: "ativo" | "inativo" | "anonimizado";
  fisioterapeuta_id: string;
  created_at: Date;
  updated_at: Date;
  version: string;
}

/** Columns a write may set, as the API names them (the same as the table's). */
export const PACIENTE_WRITABLE = ["nome", "email", "telefone", "data_nascimento", "cpf", "status"] as const;
export type PacienteWritable = (typeof PACIENTE_WRITABLE)[number];

export const PACIENTE_BY_ID = `SELECT ${PACIENTE_COLUMNS} FROM public.pacientes p WHERE p.id = $1`;

/**
 * Newest first, keyset-paged on (created_at, id); `created_at::text` is the cursor's exact value.
 * $1 status or NULL, $2/$3 the cursor or NULLs, $4 the page size + 1 (to know whether more follow).
 */
export const PACIENTES_LIST = `
SELECT ${PACIENTE_COLUMNS}, p.created_at::text AS cursor_at
  FROM public.pacientes p
 WHERE ($1::text IS NULL OR p.status = $1::text)
   AND ($2::timestamptz IS NULL OR (p.created_at, p.id) < ($2::timestamptz, $3::uuid))
 ORDER BY p.created_at DESC, p.id DESC
 LIMIT $4::integer`;

/**
 * `?q=`: app.buscar_pacientes ranks and pages (keyset on rank, id; see pacientes-search.ts); the
 * join back to pacientes runs under the caller's RLS. A status filter is a LEFT JOIN condition, so a page keeps the
 * function's rows (and its cursor) even where some are filtered out: $5 status or NULL.
 */
export const PACIENTES_SEARCH = `
SELECT s.id AS search_id, s.rank, ${PACIENTE_COLUMNS}
  FROM app.buscar_pacientes($1::text, $2::integer, $3::double precision, $4::uuid) s
  LEFT JOIN public.pacientes p ON p.id = s.id AND ($5::text IS NULL OR p.status = $5::text)
 ORDER BY s.rank DESC, s.id`;

export function insertPaciente(values: Partial<Record<PacienteWritable | "fisioterapeuta_id", unknown>>) {
  const cols = Object.keys(values).filter((k) =>
    ([...PACIENTE_WRITABLE, "fisioterapeuta_id"] as readonly string[]).includes(k),
  ) as (PacienteWritable | "fisioterapeuta_id")[];
  return {
    text: `INSERT INTO public.pacientes AS p (${cols.join(", ")})
           VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING ${PACIENTE_COLUMNS}`,
    params: cols.map((c) => values[c]),
  };
}

/**
 * UPDATE of the given columns, only if the row's version is still `version` (when given): one
 * statement, so no write can slip between the check and the update. Column names come from
 * PACIENTE_WRITABLE only, never from input.
 */
export function updatePaciente(
  id: string,
  values: Partial<Record<PacienteWritable, unknown>>,
  version?: string,
) {
  const cols = Object.keys(values).filter((k): k is PacienteWritable =>
    (PACIENTE_WRITABLE as readonly string[]).includes(k),
  );
  const sets = cols.map((c, i) => `${c} = $${i + 3}`);
  return {
    text: `UPDATE public.pacientes AS p SET ${sets.join(", ")}
            WHERE p.id = $1 AND ($2::timestamptz IS NULL OR p.updated_at = $2::timestamptz)
              AND p.status <> 'anonimizado'
           RETURNING ${PACIENTE_COLUMNS}`,
    params: [id, version ?? null, ...cols.map((c) => values[c])],
  };
}

/** After a conditional write: does the row exist for this caller (412 vs 404), is it anonymised (409)? */
export const PACIENTE_VERSION =
  "SELECT p.updated_at::text AS version, p.status FROM public.pacientes p WHERE p.id = $1";

/** DELETE keeps the record (clinical records are kept for 20 years): it deactivates. */
export const DEACTIVATE_PACIENTE = `
UPDATE public.pacientes AS p
   SET status = CASE WHEN p.status = 'anonimizado' THEN p.status ELSE 'inativo' END
 WHERE p.id = $1
RETURNING p.id`;

/**
 * LGPD export: everything the caller may see of one paciente, as one JSON document built by
 * PostgreSQL (rows as they are stored; timestamps in ISO 8601 with offset). Run in the same
 * batch as EXPORT_AUDIT, so the prontuarios read is audited.
 */
export const PACIENTE_EXPORT = `
SELECT jsonb_build_object(
  'paciente', (SELECT to_jsonb(p) FROM public.pacientes p WHERE p.id = $1),
  'consultas', coalesce((SELECT jsonb_agg(to_jsonb(c) ORDER BY c.data_consulta, c.id)
                           FROM public.consultas c WHERE c.paciente_id = $1), '[]'::jsonb),
  'prontuarios', coalesce((SELECT jsonb_agg(to_jsonb(r) ORDER BY r.created_at, r.id)
                             FROM public.prontuarios r WHERE r.paciente_id = $1), '[]'::jsonb),
  'prescricoes', coalesce((SELECT jsonb_agg(to_jsonb(x) || jsonb_build_object('exercicio_nome', e.nome)
                                            ORDER BY x.inicio, x.id)
                             FROM public.prescricoes x JOIN public.exercicios e ON e.id = x.exercicio_id
                            WHERE x.paciente_id = $1), '[]'::jsonb),
  'anexos', coalesce((SELECT jsonb_agg(to_jsonb(a) - 'r2_key' ORDER BY a.created_at, a.id)
                        FROM public.anexos a WHERE a.paciente_id = $1), '[]'::jsonb)
) AS doc`;

export const EXPORT_AUDIT = `
SELECT audit.registrar_leitura('pacientes', ARRAY(SELECT p.id FROM public.pacientes p WHERE p.id = $1))
     + audit.registrar_leitura('prontuarios',
         ARRAY(SELECT r.id FROM public.prontuarios r WHERE r.paciente_id = $1)) AS audited`;

/** LGPD anonymisation (db/migrations/0010): admin only, checked again by the database. */
export const ANONYMIZE_PACIENTE = "SELECT app.anonimizar_paciente($1::uuid) AS ok";

/** Whether the caller may see the paciente (RLS decides): tells a 404 from an empty page. */
export const PACIENTE_VISIVEL = `SELECT EXISTS (SELECT 1 FROM public.pacientes pa WHERE pa.id = $1::uuid) AS visivel`;
