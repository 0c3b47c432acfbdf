-- Row Level Security and the app role's grants. Plan mistake 5: its policies called auth.uid()
-- (a Supabase function, absent here) and pacientes.fisioterapeuta_id (a column it lacked), did
-- not FORCE RLS (owners bypass it) and assumed the app connects as owner. Here:
--   * identity = app.user_id() / app.role(), set per transaction by the API (db/session.ts);
--   * ENABLE + FORCE on every table with policies, so even the owner only sees what a policy
--     grants; the owner's maintenance work (seed, partition job, sync) declares itself with
--     app.role = 'system', which only policies `TO <owner>` honour — the app role setting it gets
--     nothing;
--   * the app role (fisioflow_app) owns nothing and gets only the grants at the end of this file.

CREATE FUNCTION app.is_fisio_do_paciente(pid uuid) RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$
    SELECT app.role() = 'fisioterapeuta'
       AND EXISTS (SELECT 1 FROM public.pacientes p
                    WHERE p.id = pid AND p.fisioterapeuta_id = app.user_id())
  $$;
--> statement-breakpoint

-- ---------------------------------------------------------------- fisioterapeutas
ALTER TABLE public.fisioterapeutas ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.fisioterapeutas FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY fisioterapeutas_admin ON public.fisioterapeutas
  USING (app.role() = 'admin') WITH CHECK (app.role() = 'admin');
--> statement-breakpoint
CREATE POLICY fisioterapeutas_self ON public.fisioterapeutas FOR SELECT
  USING (app.role() = 'fisioterapeuta' AND id = app.user_id());
--> statement-breakpoint
CREATE POLICY fisioterapeutas_do_paciente ON public.fisioterapeutas FOR SELECT
  USING (app.role() = 'paciente' AND EXISTS (
    SELECT 1 FROM public.pacientes p WHERE p.id = app.user_id() AND p.fisioterapeuta_id = fisioterapeutas.id));
--> statement-breakpoint
CREATE POLICY fisioterapeutas_system ON public.fisioterapeutas TO CURRENT_USER
  USING (app.role() = 'system') WITH CHECK (app.role() = 'system');
--> statement-breakpoint

-- ---------------------------------------------------------------- pacientes
ALTER TABLE public.pacientes ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.pacientes FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY pacientes_admin ON public.pacientes
  USING (app.role() = 'admin') WITH CHECK (app.role() = 'admin');
--> statement-breakpoint
CREATE POLICY pacientes_fisioterapeuta ON public.pacientes
  USING (app.role() = 'fisioterapeuta' AND fisioterapeuta_id = app.user_id())
  WITH CHECK (app.role() = 'fisioterapeuta' AND fisioterapeuta_id = app.user_id());
--> statement-breakpoint
CREATE POLICY pacientes_self ON public.pacientes FOR SELECT
  USING (app.role() = 'paciente' AND id = app.user_id());
--> statement-breakpoint
CREATE POLICY pacientes_system ON public.pacientes TO CURRENT_USER
  USING (app.role() = 'system') WITH CHECK (app.role() = 'system');
--> statement-breakpoint

-- ---------------------------------------------------------------- consultas
ALTER TABLE public.consultas ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.consultas FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY consultas_admin ON public.consultas
  USING (app.role() = 'admin') WITH CHECK (app.role() = 'admin');
--> statement-breakpoint
-- A fisioterapeuta manages the consultas of their own pacientes and books them in their own name.
CREATE POLICY consultas_fisioterapeuta ON public.consultas
  USING (app.is_fisio_do_paciente(paciente_id))
  WITH CHECK (app.is_fisio_do_paciente(paciente_id) AND fisioterapeuta_id = app.user_id());
--> statement-breakpoint
CREATE POLICY consultas_paciente ON public.consultas FOR SELECT
  USING (app.role() = 'paciente' AND paciente_id = app.user_id());
--> statement-breakpoint
CREATE POLICY consultas_system ON public.consultas TO CURRENT_USER
  USING (app.role() = 'system') WITH CHECK (app.role() = 'system');
--> statement-breakpoint

-- ---------------------------------------------------------------- prontuarios (append-only)
ALTER TABLE public.prontuarios ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.prontuarios FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
-- No UPDATE or DELETE policy for anyone, and no such grant (below): corrections are new rows.
CREATE POLICY prontuarios_admin_read ON public.prontuarios FOR SELECT
  USING (app.role() = 'admin');
--> statement-breakpoint
CREATE POLICY prontuarios_fisioterapeuta_read ON public.prontuarios FOR SELECT
  USING (app.is_fisio_do_paciente(paciente_id));
--> statement-breakpoint
CREATE POLICY prontuarios_fisioterapeuta_write ON public.prontuarios FOR INSERT
  WITH CHECK (app.is_fisio_do_paciente(paciente_id) AND fisioterapeuta_id = app.user_id());
--> statement-breakpoint
CREATE POLICY prontuarios_paciente_read ON public.prontuarios FOR SELECT
  USING (app.role() = 'paciente' AND paciente_id = app.user_id());
--> statement-breakpoint
CREATE POLICY prontuarios_system_read ON public.prontuarios FOR SELECT TO CURRENT_USER
  USING (app.role() = 'system');
--> statement-breakpoint
CREATE POLICY prontuarios_system_write ON public.prontuarios FOR INSERT TO CURRENT_USER
  WITH CHECK (app.role() = 'system');
--> statement-breakpoint

-- ---------------------------------------------------------------- exercicios (catalog)
ALTER TABLE public.exercicios ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.exercicios FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY exercicios_read ON public.exercicios FOR SELECT
  USING (app.role() IN ('admin', 'fisioterapeuta', 'paciente'));
--> statement-breakpoint
CREATE POLICY exercicios_insert ON public.exercicios FOR INSERT
  WITH CHECK (app.role() IN ('admin', 'fisioterapeuta'));
--> statement-breakpoint
CREATE POLICY exercicios_admin_update ON public.exercicios FOR UPDATE
  USING (app.role() = 'admin') WITH CHECK (app.role() = 'admin');
--> statement-breakpoint
CREATE POLICY exercicios_admin_delete ON public.exercicios FOR DELETE
  USING (app.role() = 'admin');
--> statement-breakpoint
CREATE POLICY exercicios_system ON public.exercicios TO CURRENT_USER
  USING (app.role() = 'system') WITH CHECK (app.role() = 'system');
--> statement-breakpoint

-- ---------------------------------------------------------------- prescricoes
ALTER TABLE public.prescricoes ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.prescricoes FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY prescricoes_admin ON public.prescricoes
  USING (app.role() = 'admin') WITH CHECK (app.role() = 'admin');
--> statement-breakpoint
CREATE POLICY prescricoes_fisioterapeuta ON public.prescricoes
  USING (app.is_fisio_do_paciente(paciente_id))
  WITH CHECK (app.is_fisio_do_paciente(paciente_id) AND fisioterapeuta_id = app.user_id());
--> statement-breakpoint
CREATE POLICY prescricoes_paciente ON public.prescricoes FOR SELECT
  USING (app.role() = 'paciente' AND paciente_id = app.user_id());
--> statement-breakpoint
CREATE POLICY prescricoes_system ON public.prescricoes TO CURRENT_USER
  USING (app.role() = 'system') WITH CHECK (app.role() = 'system');
--> statement-breakpoint

-- ---------------------------------------------------------------- audit.log
ALTER TABLE audit.log ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE audit.log FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY log_admin_read ON audit.log FOR SELECT USING (app.role() = 'admin');
--> statement-breakpoint
CREATE POLICY log_system_read ON audit.log FOR SELECT TO CURRENT_USER USING (app.role() = 'system');
--> statement-breakpoint
-- The triggers run as the owner (SECURITY DEFINER); FORCE applies to it, so it needs this.
CREATE POLICY log_owner_write ON audit.log FOR INSERT TO CURRENT_USER WITH CHECK (true);
--> statement-breakpoint

-- ---------------------------------------------------------------- grants to the app role
REVOKE ALL ON ALL TABLES IN SCHEMA private FROM PUBLIC;
--> statement-breakpoint
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA private FROM PUBLIC;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public, app, audit, analytics TO fisioflow_app;
--> statement-breakpoint
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO fisioflow_app;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE
  ON public.fisioterapeutas, public.pacientes, public.consultas, public.exercicios, public.prescricoes
  TO fisioflow_app;
--> statement-breakpoint
GRANT SELECT, INSERT ON public.prontuarios TO fisioflow_app;
--> statement-breakpoint
GRANT SELECT ON audit.log TO fisioflow_app;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION audit.registrar_leitura(text, uuid[]) TO fisioflow_app;
