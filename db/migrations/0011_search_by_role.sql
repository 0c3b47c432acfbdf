-- app.buscar_pacientes, planned per role. 0008's version filtered the caller's rows with one
-- CASE on app.role(), which no index can serve: a fisioterapeuta's search for a common surname
-- ranked every clinic's matches and threw most away (9 ms where 0.8 ms do, measured with 10 000
-- pacientes; bench/results/api.md). Here each role is its own branch, gated by a one-time filter
-- on app.role(), so the fisioterapeuta's branch can use pacientes_busca_fisioterapeuta_idx and the
-- paciente's the primary key, while the admin's keeps the full-text and trigram GIN indexes.
-- Same signature, same visibility rules, same ranking and keyset paging.
CREATE OR REPLACE FUNCTION app.buscar_pacientes(q text, lim integer, after_rank double precision, after_id uuid)
  RETURNS TABLE (id uuid, rank double precision)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
WITH termo AS (
  SELECT websearch_to_tsquery('portuguese', app.f_unaccent($1::text)) AS tsq, app.normaliza($1::text) AS norm
)
SELECT r.id, r.rank
  FROM (
    SELECT b.paciente_id AS id,
           (ts_rank(b.doc, t.tsq) + public.word_similarity(t.norm, b.nome_norm))::double precision AS rank
      FROM private.pacientes_busca b, termo t
     WHERE app.role() = 'admin'
       AND (b.doc @@ t.tsq OR t.norm OPERATOR(public.<%) b.nome_norm)
    UNION ALL
    SELECT b.paciente_id,
           (ts_rank(b.doc, t.tsq) + public.word_similarity(t.norm, b.nome_norm))::double precision
      FROM private.pacientes_busca b, termo t
     WHERE app.role() = 'fisioterapeuta' AND b.fisioterapeuta_id = app.user_id()
       AND (b.doc @@ t.tsq OR t.norm OPERATOR(public.<%) b.nome_norm)
    UNION ALL
    SELECT b.paciente_id,
           (ts_rank(b.doc, t.tsq) + public.word_similarity(t.norm, b.nome_norm))::double precision
      FROM private.pacientes_busca b, termo t
     WHERE app.role() = 'paciente' AND b.paciente_id = app.user_id()
       AND (b.doc @@ t.tsq OR t.norm OPERATOR(public.<%) b.nome_norm)
  ) r
 WHERE $3::double precision IS NULL OR r.rank < $3::double precision
    OR (r.rank = $3::double precision AND r.id > $4::uuid)
 ORDER BY r.rank DESC, r.id
 LIMIT least(greatest($2::integer, 1), 100)
$$;
