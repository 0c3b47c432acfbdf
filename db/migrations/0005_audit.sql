-- Audit trail of clinical tables: who (app.user_id / app.role of the request), which table and
-- row, which operation and which column NAMES changed. Values are never copied, so no clinical
-- text, CPF or email leaks into the log. Written only by these SECURITY DEFINER triggers (owned by
-- the owner, fixed search_path); the app role may only SELECT, and RLS limits that to admins.
-- Plan mistake 6: its policy was `FOR SELECT USING (true)` — everyone could read every row.
-- Statement-level with transition tables: one INSERT into the log per statement, not a function
-- call per row. TG_ARGV[0] names the logical table (the same function serves every table).
-- An INSERT sets every column: its colunas are the table's columns, looked up once per statement
-- (per-row jsonb work here would dominate bulk loads).
CREATE FUNCTION audit.registrar_insert() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  colunas text[];
BEGIN
  SELECT array_agg(a.attname::text ORDER BY a.attname) INTO colunas
    FROM pg_attribute a WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped;
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao, colunas)
  SELECT nullif(current_setting('app.user_id', true), '')::uuid,
         nullif(current_setting('app.role', true), ''),
         TG_ARGV[0], n.id, 'INSERT', colunas
    FROM novos n;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION audit.registrar_update() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao, colunas)
  SELECT nullif(current_setting('app.user_id', true), '')::uuid,
         nullif(current_setting('app.role', true), ''),
         TG_ARGV[0], d.id, 'UPDATE', d.colunas
    FROM (
      SELECT (nj ->> 'id')::uuid AS id,
             ARRAY(SELECT e.key FROM jsonb_each(nj) e
                    WHERE e.value IS DISTINCT FROM oj -> e.key AND e.key <> 'updated_at'
                    ORDER BY e.key) AS colunas
        FROM (SELECT to_jsonb(n) AS nj FROM novos n) nn
        JOIN (SELECT to_jsonb(o) AS oj FROM antigos o) oo ON oo.oj -> 'id' = nn.nj -> 'id'
    ) d
   WHERE cardinality(d.colunas) > 0; -- nothing but updated_at changed: not an event
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION audit.registrar_delete() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao)
  SELECT nullif(current_setting('app.user_id', true), '')::uuid,
         nullif(current_setting('app.role', true), ''),
         TG_ARGV[0], o.id, 'DELETE'
    FROM antigos o;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER pacientes_audit_insert AFTER INSERT ON public.pacientes
  REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_insert('pacientes');
--> statement-breakpoint
CREATE TRIGGER pacientes_audit_update AFTER UPDATE ON public.pacientes
  REFERENCING OLD TABLE AS antigos NEW TABLE AS novos
  FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_update('pacientes');
--> statement-breakpoint
CREATE TRIGGER pacientes_audit_delete AFTER DELETE ON public.pacientes
  REFERENCING OLD TABLE AS antigos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_delete('pacientes');
--> statement-breakpoint
CREATE TRIGGER consultas_audit_insert AFTER INSERT ON public.consultas
  REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_insert('consultas');
--> statement-breakpoint
CREATE TRIGGER consultas_audit_update AFTER UPDATE ON public.consultas
  REFERENCING OLD TABLE AS antigos NEW TABLE AS novos
  FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_update('consultas');
--> statement-breakpoint
CREATE TRIGGER consultas_audit_delete AFTER DELETE ON public.consultas
  REFERENCING OLD TABLE AS antigos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_delete('consultas');
--> statement-breakpoint
CREATE TRIGGER prontuarios_audit_insert AFTER INSERT ON public.prontuarios
  REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_insert('prontuarios');
--> statement-breakpoint
CREATE TRIGGER prontuarios_audit_update AFTER UPDATE ON public.prontuarios
  REFERENCING OLD TABLE AS antigos NEW TABLE AS novos
  FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_update('prontuarios');
--> statement-breakpoint
CREATE TRIGGER prontuarios_audit_delete AFTER DELETE ON public.prontuarios
  REFERENCING OLD TABLE AS antigos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_delete('prontuarios');
--> statement-breakpoint
CREATE TRIGGER prescricoes_audit_insert AFTER INSERT ON public.prescricoes
  REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_insert('prescricoes');
--> statement-breakpoint
CREATE TRIGGER prescricoes_audit_update AFTER UPDATE ON public.prescricoes
  REFERENCING OLD TABLE AS antigos NEW TABLE AS novos
  FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_update('prescricoes');
--> statement-breakpoint
CREATE TRIGGER prescricoes_audit_delete AFTER DELETE ON public.prescricoes
  REFERENCING OLD TABLE AS antigos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_delete('prescricoes');
--> statement-breakpoint

-- Reads of clinical records are audited too (the API calls this after GET /v1/prontuarios...).
-- The API passes the ids it returned; the actor comes from the request settings.
CREATE FUNCTION audit.registrar_leitura(tabela text, ids uuid[]) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  IF tabela NOT IN ('pacientes', 'consultas', 'prontuarios', 'prescricoes') THEN
    RAISE EXCEPTION 'not an audited table: %', tabela USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF nullif(current_setting('app.role', true), '') IS NULL THEN
    RETURN 0;
  END IF;
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao)
  SELECT nullif(current_setting('app.user_id', true), '')::uuid,
         current_setting('app.role', true), tabela, u.id, 'READ'
    FROM unnest(ids) AS u(id);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION audit.registrar_leitura(text, uuid[]) FROM PUBLIC;
