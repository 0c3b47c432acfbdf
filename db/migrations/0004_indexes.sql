-- Indexes on the partitioned parents. Plan mistake 4: CREATE INDEX CONCURRENTLY is not supported
-- on a partitioned table. A plain CREATE INDEX on the parent cascades to every partition, present
-- and future (jobs/partitions creates months that inherit them). On a big live table the
-- non-blocking path is per partition: CREATE INDEX CONCURRENTLY on each partition, then
-- CREATE INDEX ON ONLY the parent and ALTER INDEX ... ATTACH PARTITION for each.

-- A paciente's history, newest first (GET /v1/consultas?paciente_id=...).
CREATE INDEX consultas_paciente_data_idx ON public.consultas (paciente_id, data_consulta DESC);
--> statement-breakpoint
-- A fisioterapeuta's agenda.
CREATE INDEX consultas_fisioterapeuta_data_idx ON public.consultas (fisioterapeuta_id, data_consulta);
--> statement-breakpoint

-- Plan mistake 3: the partial index needs the status column (added in 0001).
CREATE INDEX pacientes_ativos_idx ON public.pacientes (fisioterapeuta_id, created_at)
  WHERE status = 'ativo';
--> statement-breakpoint
-- The RLS predicate of a fisioterapeuta (all statuses).
CREATE INDEX pacientes_fisioterapeuta_idx ON public.pacientes (fisioterapeuta_id);
--> statement-breakpoint
-- The ?q= search indexes (Portuguese full text, trigram) are in 0008_search.sql, on a private
-- copy of the searchable columns: under RLS the planner cannot use an index for a non-leakproof
-- operator such as @@ or <% on pacientes itself.

CREATE INDEX prontuarios_paciente_idx ON public.prontuarios (paciente_id, created_at DESC);
