/**
 * The SQL of the fisioterapeutas routes, run through the caller-scoped handle (db/caller.ts): RLS
 * (0006) lets admins do everything, a fisioterapeuta read self and a paciente read their own
 * fisioterapeuta. Every statement selects the same columns, with `updated_at::text` as the row's
 * version (ETag / If-Match, microseconds included).
 */
export const FISIOTERAPEUTA_COLUMNS = `f.id, f.nome, f.email, f.crefito, f.created_at, f.updated_at,
  f.updated_at::text AS version`;

export interface FisioterapeutaRow {
  id: string;
  nome: string;
  email: string;
  crefito: string;
  created_at: Date;
  updated_at: Date;
  version: string;
}

/** Columns a write may set, as the API names them (the same as the table's). */
export const FISIOTERAPEUTA_WRITABLE = ["nome", "email", "crefito"] as const;
export type FisioterapeutaWritable = (typeof FISIOTERAPEUTA_WRITABLE)[number];

const writable = (values: Partial<Record<string, unknown>>) =>
  Object.keys(values).filter((k): k is FisioterapeutaWritable =>
    (FISIOTERAPEUTA_WRITABLE as readonly string[]).includes(k),
  );

export const FISIOTERAPEUTA_BY_ID = `SELECT ${FISIOTERAPEUTA_COLUMNS} FROM public.fisioterapeutas f WHERE f.id = $1`;

/**
 * Newest first, keyset-paged on (created_at, id): the cursor carries no name or email (it travels
 * in URLs, hence in access logs). $1/$2 the cursor or NULLs, $3 the page size + 1.
 */
export const FISIOTERAPEUTAS_LIST = `
SELECT ${FISIOTERAPEUTA_COLUMNS}, f.created_at::text AS cursor_at
  FROM public.fisioterapeutas f
 WHERE ($1::timestamptz IS NULL OR (f.created_at, f.id) < ($1::timestamptz, $2::uuid))
 ORDER BY f.created_at DESC, f.id DESC
 LIMIT $3::integer`;

export function insertFisioterapeuta(values: Record<FisioterapeutaWritable, unknown>) {
  const cols = writable(values);
  return {
    text: `INSERT INTO public.fisioterapeutas AS f (${cols.join(", ")})
           VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING ${FISIOTERAPEUTA_COLUMNS}`,
    params: cols.map((c) => values[c]),
  };
}

/**
 * UPDATE of the given columns, only if the row's version is still `version` (when given): one
 * statement, so no write can slip between the check and the update. Column names come from
 * FISIOTERAPEUTA_WRITABLE only, never from input.
 */
export function updateFisioterapeuta(
  id: string,
  values: Partial<Record<FisioterapeutaWritable, unknown>>,
  version?: string,
) {
  const cols = writable(values);
  const sets = cols.map((c, i) => `${c} = $${i + 3}`);
  return {
    text: `UPDATE public.fisioterapeutas AS f SET ${sets.join(", ")}
            WHERE f.id = $1 AND ($2::timestamptz IS NULL OR f.updated_at = $2::timestamptz)
           RETURNING ${FISIOTERAPEUTA_COLUMNS}`,
    params: [id, version ?? null, ...cols.map((c) => values[c])],
  };
}

/** After a conditional write: does the row exist for this caller (412 vs 404)? */
export const FISIOTERAPEUTA_VERSION =
  "SELECT f.updated_at::text AS version FROM public.fisioterapeutas f WHERE f.id = $1";
