-- The ?q= search (db/queries/pacientes-search.ts).
--
-- Why not GIN indexes on pacientes itself: pacientes has (forced) RLS, and PostgreSQL only lets a
-- user predicate become an index condition ahead of the policy predicates when its operator is
-- LEAKPROOF. The full-text @@ and pg_trgm <% operators are not (and only a superuser could mark
-- them), so under RLS every search would scan all four partitions. Instead the searchable
-- columns are copied, by statement-level triggers, into private.pacientes_busca (no RLS, no
-- grants), indexed there, and searched by app.buscar_pacientes(), a SECURITY DEFINER function
-- that applies the same visibility rules as the pacientes policies. The caller then joins its
-- result to pacientes, whose policies still decide what comes back.
CREATE TABLE private.pacientes_busca (
  paciente_id uuid NOT NULL,
  fisioterapeuta_id uuid NOT NULL,
  -- Portuguese full-text document over nome + email, accent-insensitive.
  doc tsvector NOT NULL,
  -- unaccented lower-case name, for trigram similarity.
  nome_norm text NOT NULL,
  CONSTRAINT pacientes_busca_pkey PRIMARY KEY (paciente_id)
);
--> statement-breakpoint
CREATE INDEX pacientes_busca_fts_idx ON private.pacientes_busca USING gin (doc);
--> statement-breakpoint
CREATE INDEX pacientes_nome_trgm_idx ON private.pacientes_busca USING gin (nome_norm public.gin_trgm_ops);
--> statement-breakpoint
CREATE INDEX pacientes_busca_fisioterapeuta_idx ON private.pacientes_busca (fisioterapeuta_id);
--> statement-breakpoint

CREATE FUNCTION private.pacientes_busca_insert() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  INSERT INTO private.pacientes_busca (paciente_id, fisioterapeuta_id, doc, nome_norm)
  SELECT n.id, n.fisioterapeuta_id, app.paciente_busca_doc(n.nome, n.email), app.normaliza(n.nome)
    FROM novos n;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION private.pacientes_busca_update() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  UPDATE private.pacientes_busca b
     SET fisioterapeuta_id = n.fisioterapeuta_id,
         doc = app.paciente_busca_doc(n.nome, n.email),
         nome_norm = app.normaliza(n.nome)
    FROM novos n JOIN antigos o ON o.id = n.id
   WHERE b.paciente_id = n.id
     AND (n.nome, n.email, n.fisioterapeuta_id) IS DISTINCT FROM (o.nome, o.email, o.fisioterapeuta_id);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION private.pacientes_busca_delete() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  DELETE FROM private.pacientes_busca b USING antigos o WHERE b.paciente_id = o.id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER pacientes_busca_insert AFTER INSERT ON public.pacientes
  REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION private.pacientes_busca_insert();
--> statement-breakpoint
CREATE TRIGGER pacientes_busca_update AFTER UPDATE ON public.pacientes
  REFERENCING OLD TABLE AS antigos NEW TABLE AS novos
  FOR EACH STATEMENT EXECUTE FUNCTION private.pacientes_busca_update();
--> statement-breakpoint
CREATE TRIGGER pacientes_busca_delete AFTER DELETE ON public.pacientes
  REFERENCING OLD TABLE AS antigos FOR EACH STATEMENT EXECUTE FUNCTION private.pacientes_busca_delete();
--> statement-breakpoint

-- $1 term, $2 page size, $3/$4 keyset cursor (rank, id of the previous page's last row) or NULL.
-- Rank: full-text ts_rank + trigram word similarity. The visibility CASE mirrors the pacientes
-- policies (0006); the caller's join to pacientes re-applies the real ones.
-- Positional parameters on purpose: the body can be EXPLAINed as-is (test/db/seed-search.test.ts).
CREATE FUNCTION app.buscar_pacientes(q text, lim integer, after_rank double precision, after_id uuid)
  RETURNS TABLE (id uuid, rank double precision)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
SELECT r.id, r.rank
  FROM (
    SELECT b.paciente_id AS id,
           (ts_rank(b.doc, websearch_to_tsquery('portuguese', app.f_unaccent($1::text)))
            + public.word_similarity(app.normaliza($1::text), b.nome_norm))::double precision AS rank
      FROM private.pacientes_busca b
     WHERE (b.doc @@ websearch_to_tsquery('portuguese', app.f_unaccent($1::text))
            OR app.normaliza($1::text) OPERATOR(public.<%) b.nome_norm)
       AND CASE app.role()
             WHEN 'admin' THEN true
             WHEN 'fisioterapeuta' THEN b.fisioterapeuta_id = app.user_id()
             WHEN 'paciente' THEN b.paciente_id = app.user_id()
             ELSE false
           END
  ) r
 WHERE $3::double precision IS NULL OR r.rank < $3::double precision
    OR (r.rank = $3::double precision AND r.id > $4::uuid)
 ORDER BY r.rank DESC, r.id
 LIMIT least(greatest($2::integer, 1), 100)
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION app.buscar_pacientes(text, integer, double precision, uuid) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app.buscar_pacientes(text, integer, double precision, uuid) TO fisioflow_app;
