-- FisioFlow's legacy PostgreSQL, as the plan implies it: the live database the clinic runs today
-- and the source of the migration to Neon. Plain tables (no partitions, no RLS), uuid ids,
-- created_at / updated_at on every row, and the looseness of an old system: dates of birth typed
-- as text ('DD/MM/YYYY'), CPF with or without punctuation, status in upper case, no uniqueness on
-- CPF, no protection against double booking.
--
-- updated_at is set by a trigger on every INSERT and UPDATE (clock_timestamp(), never the
-- client's clock), so it is always at or after the start of the transaction that wrote the row:
-- the incremental sync relies on that (see db/migration/README.md, "the horizon").

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE FUNCTION legacy_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := clock_timestamp();
  IF TG_OP = 'INSERT' THEN
    NEW.created_at := coalesce(NEW.created_at, NEW.updated_at);
  END IF;
  RETURN NEW;
END
$$;

CREATE TABLE fisioterapeutas (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  nome text NOT NULL,
  email text NOT NULL,
  crefito text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE pacientes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  nome text NOT NULL,
  email text,
  telefone text,
  -- as typed in the old forms: 'DD/MM/YYYY' (a few are not real dates)
  data_nascimento text,
  -- '123.456.789-09' or '12345678909'; not unique (the new schema refuses duplicates)
  cpf text,
  ativo boolean NOT NULL DEFAULT true,
  fisioterapeuta_id uuid NOT NULL REFERENCES fisioterapeutas (id),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE exercicios (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  nome text NOT NULL,
  descricao text,
  categoria text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE consultas (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  paciente_id uuid NOT NULL REFERENCES pacientes (id),
  fisioterapeuta_id uuid NOT NULL REFERENCES fisioterapeutas (id),
  data_hora timestamptz NOT NULL,
  duracao_min integer NOT NULL DEFAULT 50,
  -- AGENDADA, CONFIRMADA, REALIZADA, CANCELADA, FALTA
  status text NOT NULL DEFAULT 'AGENDADA',
  observacoes text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE prontuarios (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  paciente_id uuid NOT NULL REFERENCES pacientes (id),
  fisioterapeuta_id uuid NOT NULL REFERENCES fisioterapeutas (id),
  consulta_id uuid REFERENCES consultas (id),
  conteudo text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE prescricoes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  paciente_id uuid NOT NULL REFERENCES pacientes (id),
  exercicio_id uuid NOT NULL REFERENCES exercicios (id),
  fisioterapeuta_id uuid NOT NULL REFERENCES fisioterapeutas (id),
  series integer NOT NULL,
  repeticoes integer NOT NULL,
  frequencia text NOT NULL,
  observacoes text,
  inicio date NOT NULL DEFAULT current_date,
  fim date,
  ativa boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The sync's keyset: (updated_at, id) per table.
CREATE INDEX fisioterapeutas_sync_idx ON fisioterapeutas (updated_at, id);
CREATE INDEX pacientes_sync_idx ON pacientes (updated_at, id);
CREATE INDEX exercicios_sync_idx ON exercicios (updated_at, id);
CREATE INDEX consultas_sync_idx ON consultas (updated_at, id);
CREATE INDEX prontuarios_sync_idx ON prontuarios (updated_at, id);
CREATE INDEX prescricoes_sync_idx ON prescricoes (updated_at, id);

CREATE TRIGGER fisioterapeutas_touch BEFORE INSERT OR UPDATE ON fisioterapeutas FOR EACH ROW EXECUTE FUNCTION legacy_touch();
CREATE TRIGGER pacientes_touch BEFORE INSERT OR UPDATE ON pacientes FOR EACH ROW EXECUTE FUNCTION legacy_touch();
CREATE TRIGGER exercicios_touch BEFORE INSERT OR UPDATE ON exercicios FOR EACH ROW EXECUTE FUNCTION legacy_touch();
CREATE TRIGGER consultas_touch BEFORE INSERT OR UPDATE ON consultas FOR EACH ROW EXECUTE FUNCTION legacy_touch();
CREATE TRIGGER prontuarios_touch BEFORE INSERT OR UPDATE ON prontuarios FOR EACH ROW EXECUTE FUNCTION legacy_touch();
CREATE TRIGGER prescricoes_touch BEFORE INSERT OR UPDATE ON prescricoes FOR EACH ROW EXECUTE FUNCTION legacy_touch();

-- Logical replication (CDC) needs the old key of updated and deleted rows: the primary key is
-- the default replica identity, which is enough.
