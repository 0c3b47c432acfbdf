-- LGPD: anonymising a paciente. The API's POST /v1/pacientes/:id/anonymize calls this, as an
-- admin, in the same HTTP transaction as the identity statement. It replaces every personal field
-- with an irreversible placeholder (nothing of the old value is kept anywhere: the search copy
-- and the email/CPF key tables follow through their triggers), keeps the clinical content
-- (consultas, prontuarios, prescricoes) and the audit trail, and writes an ANONYMIZE audit row
-- naming the admin. It runs as the owner (SECURITY DEFINER) because only the owner may write
-- audit rows directly; the pacientes update itself still passes RLS (the admin policy).
CREATE FUNCTION app.anonimizar_paciente(p_id uuid) RETURNS boolean
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
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao, colunas)
  VALUES (app.user_id(), app.role(), 'pacientes', p_id, 'ANONYMIZE',
          ARRAY['cpf', 'data_nascimento', 'email', 'nome', 'telefone']);
  RETURN true;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION app.anonimizar_paciente(uuid) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app.anonimizar_paciente(uuid) TO fisioflow_app;
