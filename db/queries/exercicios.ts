/**
 * The SQL of the exercicios catalog, run through the caller-scoped handle (db/caller.ts). RLS
 * (0006): every authenticated role reads the whole catalog; admins and fisioterapeutas add to it.
 */
export const EXERCICIO_COLUMNS = "e.id, e.nome, e.descricao, e.categoria, e.created_at, e.updated_at";

export interface ExercicioRow {
  id: string;
  nome: string;
  descricao: string | null;
  categoria: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * Alphabetical, keyset-paged on (nome, id) (nome is unique; id only makes the order total).
 * $1 categoria or NULL, $2/$3 the cursor or NULLs, $4 the page size + 1.
 */
export const EXERCICIOS_LIST = `
SELECT ${EXERCICIO_COLUMNS}
  FROM public.exercicios e
 WHERE ($1::text IS NULL OR e.categoria = $1::text)
   AND ($2::text IS NULL OR (e.nome, e.id) > ($2::text, $3::uuid))
 ORDER BY e.nome, e.id
 LIMIT $4::integer`;

/** $1 nome, $2 descricao or NULL, $3 categoria. */
export const INSERT_EXERCICIO = `
INSERT INTO public.exercicios AS e (nome, descricao, categoria)
VALUES ($1::text, $2::text, $3::text)
RETURNING ${EXERCICIO_COLUMNS}`;
