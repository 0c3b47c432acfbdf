-- Review fixes: immutable ids on every clinical table, and bounds on consultas.data_consulta.

-- ---------------------------------------------------------------- immutable ids
-- audit.registrar_update pairs old and new rows by id: an UPDATE that changed the id wrote no
-- audit row at all, and it left references that are not foreign keys (prontuarios.consulta_id,
-- the booking ledger's consulta_id) pointing at nothing. An id never changes, for the app role
-- and the owner alike (pacientes has had its own trigger since 0003). TG_ARGV[0] is the logical
-- table: on consultas the row trigger runs on the partition, so TG_TABLE_NAME would name that.
CREATE FUNCTION app.id_imutavel() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION '%.id cannot change', TG_ARGV[0]
    USING ERRCODE = 'check_violation', CONSTRAINT = TG_ARGV[0] || '_id_imutavel',
          HINT = 'insert a new row instead of changing the id of an existing one';
END
$$;
--> statement-breakpoint
-- A BEFORE ROW trigger on the partitioned consultas is cloned to every partition, present and
-- future (jobs/partitions). The WHEN clause keeps ordinary updates free of a function call.
CREATE TRIGGER consultas_id_imutavel BEFORE UPDATE ON public.consultas
  FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION app.id_imutavel('consultas');
--> statement-breakpoint
CREATE TRIGGER fisioterapeutas_id_imutavel BEFORE UPDATE ON public.fisioterapeutas
  FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION app.id_imutavel('fisioterapeutas');
--> statement-breakpoint
CREATE TRIGGER prontuarios_id_imutavel BEFORE UPDATE ON public.prontuarios
  FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION app.id_imutavel('prontuarios');
--> statement-breakpoint
CREATE TRIGGER exercicios_id_imutavel BEFORE UPDATE ON public.exercicios
  FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION app.id_imutavel('exercicios');
--> statement-breakpoint
CREATE TRIGGER prescricoes_id_imutavel BEFORE UPDATE ON public.prescricoes
  FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION app.id_imutavel('prescricoes');
--> statement-breakpoint

-- ---------------------------------------------------------------- consultas.data_consulta bounds
-- Without bounds one absurd date (year 10000 in DEFAULT) gave jobs/partitions a month it cannot
-- create. Declared on the parent, so every partition (and every future one) inherits it.
ALTER TABLE public.consultas ADD CONSTRAINT consultas_data_consulta_check
  CHECK (data_consulta >= '2000-01-01 00:00:00+00' AND data_consulta < '2200-01-01 00:00:00+00');
