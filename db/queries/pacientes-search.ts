/**
 * `GET /v1/pacientes?q=`: Portuguese full text (accent-insensitive, over nome + email) OR fuzzy
 * name match (pg_trgm word similarity on the unaccented lower-case name, so "joao olivera" finds
 * "João Oliveira"), ranked by ts_rank + similarity, keyset-paged on (rank, id).
 *
 * The matching runs in app.buscar_pacientes() (db/migrations/0008_search.sql) over GIN indexes
 * on a private copy of the searchable columns: on pacientes itself RLS would stop the planner
 * from using an index for these non-leakproof operators. The join back to pacientes runs under
 * the caller's RLS, so only rows the caller may see are returned. Run it as the app role after
 * the identity statement (db/session.ts).
 */

export interface PacientesSearchOptions {
  /** Page size, 1..100 (default 20). */
  limit?: number;
  /** Keyset cursor: the (rank, id) of the last row of the previous page. */
  after?: { rank: number; id: string };
}

export interface PacienteSearchRow {
  id: string;
  nome: string;
  email: string | null;
  telefone: string | null;
  data_nascimento: string | null;
  cpf: string | null;
  status: string;
  fisioterapeuta_id: string;
  created_at: string;
  updated_at: string;
  rank: number;
}

export const PACIENTES_SEARCH_SQL = `
SELECT p.id, p.nome, p.email, p.telefone, p.data_nascimento, p.cpf, p.status, p.fisioterapeuta_id,
       p.created_at, p.updated_at, s.rank
  FROM app.buscar_pacientes($1::text, $2::integer, $3::double precision, $4::uuid) s
  JOIN public.pacientes p ON p.id = s.id
 ORDER BY s.rank DESC, p.id`;

/** The query text and parameters, for neon() (`sql.query(text, params)`), a Pool or pg. */
export function pacientesSearchQuery(
  q: string,
  opts: PacientesSearchOptions = {},
): { text: string; params: unknown[] } {
  const term = q.trim().slice(0, 200);
  if (!term) throw new Error("empty search term");
  const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 20), 1), 100);
  return {
    text: PACIENTES_SEARCH_SQL,
    params: [term, limit, opts.after?.rank ?? null, opts.after?.id ?? null],
  };
}
