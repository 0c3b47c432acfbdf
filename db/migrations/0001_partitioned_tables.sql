-- pacientes and consultas are partitioned, which drizzle-kit cannot express; their drizzle
-- definitions (db/schema) are the typed mirror. Foreign keys are added by 0002 (generated).

-- Plan mistake 2: `email UNIQUE` on a table PARTITION BY HASH (id) is rejected (a unique
-- constraint must contain the partition key). Email and CPF uniqueness is enforced across all
-- partitions by the key tables in 0003. Plan mistake 3: the plan indexed `status`, which its
-- table lacked; the column is here.
CREATE TABLE public.pacientes (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  nome text NOT NULL,
  email text,
  telefone text,
  data_nascimento date,
  cpf text,
  status text NOT NULL DEFAULT 'ativo',
  fisioterapeuta_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pacientes_pkey PRIMARY KEY (id),
  CONSTRAINT pacientes_status_check CHECK (status IN ('ativo', 'inativo', 'anonimizado')),
  CONSTRAINT pacientes_cpf_check CHECK (cpf ~ '^[0-9]{11}$')
) PARTITION BY HASH (id);
--> statement-breakpoint
CREATE TABLE public.pacientes_p0 PARTITION OF public.pacientes FOR VALUES WITH (MODULUS 4, REMAINDER 0);
--> statement-breakpoint
CREATE TABLE public.pacientes_p1 PARTITION OF public.pacientes FOR VALUES WITH (MODULUS 4, REMAINDER 1);
--> statement-breakpoint
CREATE TABLE public.pacientes_p2 PARTITION OF public.pacientes FOR VALUES WITH (MODULUS 4, REMAINDER 2);
--> statement-breakpoint
CREATE TABLE public.pacientes_p3 PARTITION OF public.pacientes FOR VALUES WITH (MODULUS 4, REMAINDER 3);
--> statement-breakpoint

-- Plan mistake 1: PRIMARY KEY (id) on a table PARTITION BY RANGE (data_consulta) is rejected; the
-- key must contain the partition key. `id` alone stays unique through private.consultas_agenda.
-- Monthly partitions (UTC months, named consultas_yYYYYmMM) are created ahead by
-- jobs/partitions; rows outside every month land in DEFAULT and the job moves them out.
CREATE TABLE public.consultas (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  paciente_id uuid NOT NULL,
  fisioterapeuta_id uuid NOT NULL,
  data_consulta timestamptz NOT NULL,
  duracao_min integer NOT NULL DEFAULT 50,
  status text NOT NULL DEFAULT 'agendada',
  observacoes text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT consultas_pkey PRIMARY KEY (id, data_consulta),
  CONSTRAINT consultas_duracao_check CHECK (duracao_min BETWEEN 5 AND 480),
  CONSTRAINT consultas_status_check
    CHECK (status IN ('agendada', 'confirmada', 'realizada', 'cancelada', 'falta'))
) PARTITION BY RANGE (data_consulta);
--> statement-breakpoint
CREATE TABLE public.consultas_default PARTITION OF public.consultas DEFAULT;
