-- Integrity the partitioned tables cannot declare themselves: cross-partition uniqueness of
-- pacientes.email/cpf, globally unique consultas.id, no double booking, append-only prontuarios.
-- The key tables live in schema `private` (no grants to the app role), so they cannot be used to
-- read other clinics' emails or CPFs; only the SECURITY DEFINER triggers below write them.

-- ---------------------------------------------------------------- pacientes: email / cpf keys
CREATE TABLE private.pacientes_email (
  email text NOT NULL,
  paciente_id uuid NOT NULL,
  CONSTRAINT pacientes_email_key PRIMARY KEY (email)
);
--> statement-breakpoint
CREATE TABLE private.pacientes_cpf (
  cpf text NOT NULL,
  paciente_id uuid NOT NULL,
  CONSTRAINT pacientes_cpf_key PRIMARY KEY (cpf)
);
--> statement-breakpoint

-- Statement-level triggers with transition tables: one set-based statement per INSERT/UPDATE/
-- DELETE instead of a function call per row (bulk loads stay fast). A duplicate fails on the key
-- table's primary key — SQLSTATE 23505, constraint pacientes_email_key / pacientes_cpf_key — and
-- a concurrent inserter of the same key waits for the first transaction, so a race cannot let
-- both through.
CREATE FUNCTION private.pacientes_chaves_insert() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  INSERT INTO private.pacientes_email (email, paciente_id)
    SELECT lower(n.email), n.id FROM novos n WHERE n.email IS NOT NULL;
  INSERT INTO private.pacientes_cpf (cpf, paciente_id)
    SELECT n.cpf, n.id FROM novos n WHERE n.cpf IS NOT NULL;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION private.pacientes_chaves_update() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  DELETE FROM private.pacientes_email e
   USING antigos o JOIN novos n ON n.id = o.id
   WHERE lower(n.email) IS DISTINCT FROM lower(o.email) AND e.email = lower(o.email) AND e.paciente_id = o.id;
  DELETE FROM private.pacientes_cpf c
   USING antigos o JOIN novos n ON n.id = o.id
   WHERE n.cpf IS DISTINCT FROM o.cpf AND c.cpf = o.cpf AND c.paciente_id = o.id;
  INSERT INTO private.pacientes_email (email, paciente_id)
    SELECT lower(n.email), n.id FROM novos n JOIN antigos o ON o.id = n.id
     WHERE n.email IS NOT NULL AND lower(n.email) IS DISTINCT FROM lower(o.email);
  INSERT INTO private.pacientes_cpf (cpf, paciente_id)
    SELECT n.cpf, n.id FROM novos n JOIN antigos o ON o.id = n.id
     WHERE n.cpf IS NOT NULL AND n.cpf IS DISTINCT FROM o.cpf;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION private.pacientes_chaves_delete() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  DELETE FROM private.pacientes_email e USING antigos o WHERE e.paciente_id = o.id AND e.email = lower(o.email);
  DELETE FROM private.pacientes_cpf c USING antigos o WHERE c.paciente_id = o.id AND c.cpf = o.cpf;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER pacientes_chaves_insert AFTER INSERT ON public.pacientes
  REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION private.pacientes_chaves_insert();
--> statement-breakpoint
CREATE TRIGGER pacientes_chaves_update AFTER UPDATE ON public.pacientes
  REFERENCING OLD TABLE AS antigos NEW TABLE AS novos
  FOR EACH STATEMENT EXECUTE FUNCTION private.pacientes_chaves_update();
--> statement-breakpoint
CREATE TRIGGER pacientes_chaves_delete AFTER DELETE ON public.pacientes
  REFERENCING OLD TABLE AS antigos FOR EACH STATEMENT EXECUTE FUNCTION private.pacientes_chaves_delete();
--> statement-breakpoint

-- The id is the hash key: changing it would move the row and orphan its consultas.
CREATE FUNCTION app.pacientes_id_imutavel() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF NEW.id <> OLD.id THEN
    RAISE EXCEPTION 'pacientes.id cannot change' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER pacientes_id_imutavel BEFORE UPDATE OF id ON public.pacientes
  FOR EACH ROW EXECUTE FUNCTION app.pacientes_id_imutavel();
--> statement-breakpoint

-- ---------------------------------------------------------------- consultas: booking ledger
-- One row per consulta (any month, so across partition boundaries): its id (globally unique
-- through the primary key) and the time it occupies, NULL once cancelled (a NULL range overlaps
-- nothing). The exclusion constraint is checked under concurrency by PostgreSQL itself: a
-- second transaction inserting an overlapping range waits for the first and then fails with
-- SQLSTATE 23P01, constraint consultas_no_overlap (db/errors.ts → 409 slot_taken).
CREATE TABLE private.consultas_agenda (
  consulta_id uuid NOT NULL,
  fisioterapeuta_id uuid NOT NULL,
  periodo tstzrange,
  CONSTRAINT consultas_id_key PRIMARY KEY (consulta_id),
  CONSTRAINT consultas_no_overlap EXCLUDE USING gist (fisioterapeuta_id WITH =, periodo WITH &&)
);
--> statement-breakpoint
CREATE FUNCTION private.consulta_periodo(status text, inicio timestamptz, duracao_min integer)
  RETURNS tstzrange
  LANGUAGE sql STABLE
  AS $$
    SELECT CASE WHEN status = 'cancelada' THEN NULL
                ELSE pg_catalog.tstzrange(inicio, inicio + pg_catalog.make_interval(mins => duracao_min), '[)') END
  $$;
--> statement-breakpoint
-- Statement-level, so an UPDATE that moves a consulta to another month (PostgreSQL runs it as a
-- DELETE + INSERT between partitions) still reaches these as one UPDATE with both transition
-- tables, and a statement that swaps two slots never sees a transient overlap: all old ledger
-- rows of the statement go before the new ones are checked. Statement triggers fire only when the
-- statement targets the parent: the app role has no grant on partitions, and jobs/partitions
-- writes through the parent.
CREATE FUNCTION private.consultas_agenda_insert() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  INSERT INTO private.consultas_agenda (consulta_id, fisioterapeuta_id, periodo)
    SELECT n.id, n.fisioterapeuta_id, private.consulta_periodo(n.status, n.data_consulta, n.duracao_min)
      FROM novos n;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION private.consultas_agenda_update() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  DELETE FROM private.consultas_agenda a USING antigos o WHERE a.consulta_id = o.id;
  INSERT INTO private.consultas_agenda (consulta_id, fisioterapeuta_id, periodo)
    SELECT n.id, n.fisioterapeuta_id, private.consulta_periodo(n.status, n.data_consulta, n.duracao_min)
      FROM novos n;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION private.consultas_agenda_delete() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  DELETE FROM private.consultas_agenda a USING antigos o WHERE a.consulta_id = o.id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER consultas_agenda_insert AFTER INSERT ON public.consultas
  REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION private.consultas_agenda_insert();
--> statement-breakpoint
CREATE TRIGGER consultas_agenda_update AFTER UPDATE ON public.consultas
  REFERENCING OLD TABLE AS antigos NEW TABLE AS novos
  FOR EACH STATEMENT EXECUTE FUNCTION private.consultas_agenda_update();
--> statement-breakpoint
CREATE TRIGGER consultas_agenda_delete AFTER DELETE ON public.consultas
  REFERENCING OLD TABLE AS antigos FOR EACH STATEMENT EXECUTE FUNCTION private.consultas_agenda_delete();
--> statement-breakpoint

-- ---------------------------------------------------------------- prontuarios: append-only
-- Version numbers come from the database, not the caller: 1 for a new record, the corrected
-- row's + 1 for a correction (corrige_id is UNIQUE, so each row is corrected at most once and
-- the versions of one record form a single chain).
CREATE FUNCTION app.prontuarios_versionar() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE
  anterior record;
BEGIN
  IF NEW.corrige_id IS NULL THEN
    NEW.versao := 1;
  ELSE
    SELECT p.versao, p.paciente_id INTO anterior FROM public.prontuarios p WHERE p.id = NEW.corrige_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'corrected prontuario % not found', NEW.corrige_id
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'prontuarios_corrige_id_prontuarios_id_fk';
    END IF;
    IF anterior.paciente_id <> NEW.paciente_id THEN
      RAISE EXCEPTION 'a correction must belong to the same paciente'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'prontuarios_correcao_paciente_check';
    END IF;
    NEW.versao := anterior.versao + 1;
  END IF;
  NEW.created_at := pg_catalog.now();
  NEW.updated_at := NEW.created_at;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER prontuarios_versionar BEFORE INSERT ON public.prontuarios
  FOR EACH ROW EXECUTE FUNCTION app.prontuarios_versionar();
--> statement-breakpoint
-- The app role has no UPDATE/DELETE grant at all; this also stops the owner.
CREATE FUNCTION app.prontuarios_append_only() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION 'prontuarios is append-only: insert a correction (corrige_id) instead of %', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
CREATE TRIGGER prontuarios_append_only BEFORE UPDATE OR DELETE ON public.prontuarios
  FOR EACH ROW EXECUTE FUNCTION app.prontuarios_append_only();
--> statement-breakpoint
CREATE TRIGGER prontuarios_no_truncate BEFORE TRUNCATE ON public.prontuarios
  FOR EACH STATEMENT EXECUTE FUNCTION app.prontuarios_append_only();
--> statement-breakpoint

-- ---------------------------------------------------------------- updated_at
CREATE TRIGGER fisioterapeutas_touch BEFORE UPDATE ON public.fisioterapeutas
  FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
--> statement-breakpoint
CREATE TRIGGER pacientes_touch BEFORE UPDATE ON public.pacientes
  FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
--> statement-breakpoint
CREATE TRIGGER consultas_touch BEFORE UPDATE ON public.consultas
  FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
--> statement-breakpoint
CREATE TRIGGER exercicios_touch BEFORE UPDATE ON public.exercicios
  FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
--> statement-breakpoint
CREATE TRIGGER prescricoes_touch BEFORE UPDATE ON public.prescricoes
  FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
