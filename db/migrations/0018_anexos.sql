-- Prontuario attachments (anexos): exam PDFs and images a fisioterapeuta attaches to a prontuario.
-- The bytes live in the R2 bucket bound as FILES, under a key without personal data
-- (`anexos/<prontuario id>/<anexo id>`); this table holds what describes them, under the same
-- rules as the prontuario: the paciente's fisioterapeuta writes (in their own name) and reads, the
-- paciente reads their own, admins read at the database level (the API answers them 403, as for
-- prontuarios). Append-only like prontuarios: no UPDATE or DELETE grant or policy for the app, and
-- a trigger refuses both even for the owner, except the one change LGPD needs: anonymising the
-- paciente (app.anonimizar_paciente, redefined below) clears the file names, which may carry the
-- paciente's name; the rows, their digests and the bytes stay (clinical content is kept).

-- paciente_id is copied from the prontuario for the policies (as prontuarios has it); this key
-- lets a foreign key hold the copy to the prontuario's own paciente. A foreign key is checked
-- without RLS, so no caller can attach to a prontuario of another paciente by naming their own.
ALTER TABLE public.prontuarios ADD CONSTRAINT prontuarios_id_paciente_id_key UNIQUE (id, paciente_id);
--> statement-breakpoint
CREATE TABLE public.anexos (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  prontuario_id uuid NOT NULL,
  paciente_id uuid NOT NULL,
  -- who attached it
  fisioterapeuta_id uuid NOT NULL,
  -- NULL once the paciente is anonymised
  nome_arquivo text,
  content_type text NOT NULL,
  -- bytes; the API's limit is lower (functions/v1/anexos/limits.ts): raising it needs no migration
  tamanho bigint NOT NULL,
  -- hex SHA-256 of the bytes (R2 verified it on upload)
  sha256 text NOT NULL,
  r2_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT anexos_pkey PRIMARY KEY (id),
  CONSTRAINT anexos_r2_key_key UNIQUE (r2_key),
  CONSTRAINT anexos_prontuario_paciente_fk FOREIGN KEY (prontuario_id, paciente_id)
    REFERENCES public.prontuarios (id, paciente_id),
  CONSTRAINT anexos_fisioterapeuta_id_fisioterapeutas_id_fk FOREIGN KEY (fisioterapeuta_id)
    REFERENCES public.fisioterapeutas (id),
  -- no path separators or control characters: the name ends up in Content-Disposition
  CONSTRAINT anexos_nome_arquivo_check CHECK (
    char_length(nome_arquivo) BETWEEN 1 AND 200 AND nome_arquivo !~ '[/\\[:cntrl:]]'),
  CONSTRAINT anexos_content_type_check CHECK (
    content_type IN ('application/pdf', 'image/jpeg', 'image/png', 'image/webp')),
  CONSTRAINT anexos_tamanho_check CHECK (tamanho BETWEEN 1 AND 104857600),
  CONSTRAINT anexos_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  CONSTRAINT anexos_r2_key_check CHECK (r2_key = 'anexos/' || prontuario_id || '/' || id)
);
--> statement-breakpoint
CREATE INDEX anexos_prontuario_idx ON public.anexos (prontuario_id, created_at, id);
--> statement-breakpoint
CREATE INDEX anexos_paciente_idx ON public.anexos (paciente_id);
--> statement-breakpoint

-- ------------------------------------------------------------------ append-only
-- The one UPDATE allowed: the file name cleared, nothing else changed, for a paciente who is
-- anonymised (the pacientes row is read under the caller's RLS; inside app.anonimizar_paciente
-- that is the admin's). The app role has no UPDATE grant at all, so only the owner gets here.
CREATE FUNCTION app.anexos_append_only() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.nome_arquivo IS NULL
       AND (to_jsonb(NEW) - 'nome_arquivo') = (to_jsonb(OLD) - 'nome_arquivo')
       AND EXISTS (SELECT 1 FROM public.pacientes p WHERE p.id = OLD.paciente_id AND p.status = 'anonimizado') THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION 'anexos is append-only: only anonymising the paciente clears a file name (refused %)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
CREATE TRIGGER anexos_append_only BEFORE UPDATE OR DELETE ON public.anexos
  FOR EACH ROW EXECUTE FUNCTION app.anexos_append_only();
--> statement-breakpoint
CREATE TRIGGER anexos_no_truncate BEFORE TRUNCATE ON public.anexos
  FOR EACH STATEMENT EXECUTE FUNCTION app.anexos_append_only();
--> statement-breakpoint
-- As on every audited table (0009): the id never changes, even with the trigger above disabled.
CREATE TRIGGER anexos_id_imutavel BEFORE UPDATE ON public.anexos
  FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION app.id_imutavel('anexos');
--> statement-breakpoint

-- ------------------------------------------------------------------ audit (0005, 0012)
CREATE TRIGGER anexos_audit_insert AFTER INSERT ON public.anexos
  REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_insert('anexos');
--> statement-breakpoint
CREATE TRIGGER anexos_audit_update AFTER UPDATE ON public.anexos
  REFERENCING OLD TABLE AS antigos NEW TABLE AS novos
  FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_update('anexos');
--> statement-breakpoint
-- Downloads are audited READs: 'anexos' joins the tables registrar_leitura accepts (otherwise
-- as in 0012: only ids the caller can see are recorded).
CREATE OR REPLACE FUNCTION audit.registrar_leitura(tabela text, ids uuid[]) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
  quem record;
  visiveis uuid[];
BEGIN
  IF tabela NOT IN ('pacientes', 'consultas', 'prontuarios', 'prescricoes', 'anexos') THEN
    RAISE EXCEPTION 'not an audited table: %', tabela USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO quem FROM app.identidade();
  IF quem.role IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE format('SELECT coalesce(array_agg(t.id), ''{}'') FROM public.%I t WHERE t.id = ANY($1)', tabela)
    INTO visiveis USING ids;
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao)
  SELECT quem.user_id, quem.role, tabela, u.id, 'READ'
    FROM unnest(visiveis) AS u(id);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
--> statement-breakpoint

-- ------------------------------------------------------------------ LGPD (0010)
-- As before, and the paciente's attachments keep everything but their file names.
CREATE OR REPLACE FUNCTION app.anonimizar_paciente(p_id uuid) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF app.role() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'only an admin may anonymise a paciente' USING ERRCODE = 'insufficient_privilege';
  END IF;
  UPDATE public.pacientes
     SET nome = 'Paciente anonimizado', email = NULL, telefone = NULL, cpf = NULL,
         data_nascimento = NULL, status = 'anonimizado'
   WHERE id = p_id;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE public.anexos SET nome_arquivo = NULL WHERE paciente_id = p_id AND nome_arquivo IS NOT NULL;
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao, colunas)
  VALUES (app.user_id(), app.role(), 'pacientes', p_id, 'ANONYMIZE',
          ARRAY['cpf', 'data_nascimento', 'email', 'nome', 'telefone']);
  RETURN true;
END
$$;
--> statement-breakpoint

-- ------------------------------------------------------------------ RLS (as prontuarios, 0006)
ALTER TABLE public.anexos ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.anexos FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY anexos_admin_read ON public.anexos FOR SELECT
  USING ((SELECT app.role()) = 'admin');
--> statement-breakpoint
CREATE POLICY anexos_fisioterapeuta_read ON public.anexos FOR SELECT
  USING (app.is_fisio_do_paciente(paciente_id));
--> statement-breakpoint
CREATE POLICY anexos_fisioterapeuta_write ON public.anexos FOR INSERT
  WITH CHECK (app.is_fisio_do_paciente(paciente_id) AND fisioterapeuta_id = (SELECT app.user_id()));
--> statement-breakpoint
CREATE POLICY anexos_paciente_read ON public.anexos FOR SELECT
  USING ((SELECT app.role()) = 'paciente' AND paciente_id = (SELECT app.user_id()));
--> statement-breakpoint
CREATE POLICY anexos_system_read ON public.anexos FOR SELECT TO CURRENT_USER
  USING ((SELECT app.role()) = 'system');
--> statement-breakpoint
CREATE POLICY anexos_system_write ON public.anexos FOR INSERT TO CURRENT_USER
  WITH CHECK ((SELECT app.role()) = 'system');
--> statement-breakpoint
-- The owner only, i.e. app.anonimizar_paciente (an admin's identity) or maintenance ('system');
-- the trigger above limits the change itself to clearing names of an anonymised paciente.
CREATE POLICY anexos_owner_anonimizar ON public.anexos FOR UPDATE TO CURRENT_USER
  USING ((SELECT app.role()) IN ('admin', 'system'))
  WITH CHECK ((SELECT app.role()) IN ('admin', 'system'));
--> statement-breakpoint

-- ------------------------------------------------------------------ grants
REVOKE ALL ON public.anexos FROM PUBLIC;
--> statement-breakpoint
-- Never created_at (the database's clock), never UPDATE or DELETE.
GRANT SELECT, INSERT (id, prontuario_id, paciente_id, fisioterapeuta_id, nome_arquivo, content_type, tamanho,
  sha256, r2_key) ON public.anexos TO fisioflow_app;
