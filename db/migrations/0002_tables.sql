CREATE SCHEMA "analytics";
--> statement-breakpoint
CREATE SCHEMA "audit";
--> statement-breakpoint
CREATE TABLE "analytics"."consultas_diarias" (
	"dia" date NOT NULL,
	"fisioterapeuta_id" uuid NOT NULL,
	"total" integer NOT NULL,
	"realizadas" integer NOT NULL,
	"canceladas" integer NOT NULL,
	"faltas" integer NOT NULL,
	"minutos_agendados" integer NOT NULL,
	"atualizado_em" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consultas_diarias_pkey" PRIMARY KEY("dia","fisioterapeuta_id")
);
--> statement-breakpoint
CREATE TABLE "audit"."log" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit"."log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"em" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_id" uuid,
	"actor_role" text,
	"tabela" text NOT NULL,
	"row_id" uuid,
	"operacao" text NOT NULL,
	"colunas" text[]
);
--> statement-breakpoint
-- "consultas" is created partitioned in 0001_partitioned_tables.sql (hand-written; drizzle-kit cannot
-- express PARTITION BY). Its generated CREATE TABLE was removed here; the snapshot still tracks it.
CREATE TABLE "exercicios" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"nome" text NOT NULL,
	"descricao" text,
	"categoria" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "exercicios_nome_key" UNIQUE("nome")
);
--> statement-breakpoint
CREATE TABLE "prescricoes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"paciente_id" uuid NOT NULL,
	"exercicio_id" uuid NOT NULL,
	"fisioterapeuta_id" uuid NOT NULL,
	"series" integer NOT NULL,
	"repeticoes" integer NOT NULL,
	"frequencia" text NOT NULL,
	"observacoes" text,
	"inicio" date DEFAULT now() NOT NULL,
	"fim" date,
	"ativa" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "prescricoes_series_check" CHECK ("prescricoes"."series" between 1 and 50),
	CONSTRAINT "prescricoes_repeticoes_check" CHECK ("prescricoes"."repeticoes" between 1 and 500),
	CONSTRAINT "prescricoes_periodo_check" CHECK ("prescricoes"."fim" is null or "prescricoes"."fim" >= "prescricoes"."inicio")
);
--> statement-breakpoint
CREATE TABLE "fisioterapeutas" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"nome" text NOT NULL,
	"email" text NOT NULL,
	"crefito" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "fisioterapeutas_email_key" UNIQUE("email")
);
--> statement-breakpoint
-- "pacientes" is created partitioned in 0001_partitioned_tables.sql (hand-written; drizzle-kit cannot
-- express PARTITION BY). Its generated CREATE TABLE was removed here; the snapshot still tracks it.
CREATE TABLE "prontuarios" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"paciente_id" uuid NOT NULL,
	"fisioterapeuta_id" uuid NOT NULL,
	"consulta_id" uuid,
	"versao" integer DEFAULT 1 NOT NULL,
	"corrige_id" uuid,
	"conteudo" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "prontuarios_corrige_id_key" UNIQUE("corrige_id"),
	CONSTRAINT "prontuarios_versao_check" CHECK ("prontuarios"."versao" >= 1)
);
--> statement-breakpoint
ALTER TABLE "consultas" ADD CONSTRAINT "consultas_paciente_id_pacientes_id_fk" FOREIGN KEY ("paciente_id") REFERENCES "public"."pacientes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consultas" ADD CONSTRAINT "consultas_fisioterapeuta_id_fisioterapeutas_id_fk" FOREIGN KEY ("fisioterapeuta_id") REFERENCES "public"."fisioterapeutas"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prescricoes" ADD CONSTRAINT "prescricoes_paciente_id_pacientes_id_fk" FOREIGN KEY ("paciente_id") REFERENCES "public"."pacientes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prescricoes" ADD CONSTRAINT "prescricoes_exercicio_id_exercicios_id_fk" FOREIGN KEY ("exercicio_id") REFERENCES "public"."exercicios"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prescricoes" ADD CONSTRAINT "prescricoes_fisioterapeuta_id_fisioterapeutas_id_fk" FOREIGN KEY ("fisioterapeuta_id") REFERENCES "public"."fisioterapeutas"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pacientes" ADD CONSTRAINT "pacientes_fisioterapeuta_id_fisioterapeutas_id_fk" FOREIGN KEY ("fisioterapeuta_id") REFERENCES "public"."fisioterapeutas"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prontuarios" ADD CONSTRAINT "prontuarios_paciente_id_pacientes_id_fk" FOREIGN KEY ("paciente_id") REFERENCES "public"."pacientes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prontuarios" ADD CONSTRAINT "prontuarios_fisioterapeuta_id_fisioterapeutas_id_fk" FOREIGN KEY ("fisioterapeuta_id") REFERENCES "public"."fisioterapeutas"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prontuarios" ADD CONSTRAINT "prontuarios_corrige_id_prontuarios_id_fk" FOREIGN KEY ("corrige_id") REFERENCES "public"."prontuarios"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "log_tabela_row_idx" ON "audit"."log" USING btree ("tabela","row_id");--> statement-breakpoint
CREATE INDEX "log_em_idx" ON "audit"."log" USING btree ("em");--> statement-breakpoint
CREATE INDEX "prescricoes_paciente_idx" ON "prescricoes" USING btree ("paciente_id");