-- The migration from the legacy PostgreSQL (db/legacy, db/migration): per-table progress and
-- the quarantine. Schema `migration` belongs to the owner, which runs the migration jobs; the app
-- role has no USAGE on it (the admin API reads it through the owner's job connection, never the
-- app's).

CREATE SCHEMA migration;
--> statement-breakpoint
REVOKE ALL ON SCHEMA migration FROM PUBLIC;
--> statement-breakpoint

-- One row per migrated table. The watermark is the keyset (updated_at, id) of the last source
-- row applied: it moves only forward, in the same transaction as the rows it covers, and only by
-- a compare-and-set on its previous value (a duplicate delivery or a concurrent run finds it
-- moved and applies nothing).
CREATE TABLE migration.tabelas (
  tabela text PRIMARY KEY,
  fase text NOT NULL DEFAULT 'pendente',
  watermark_at timestamptz,
  watermark_id uuid,
  linhas_aplicadas bigint NOT NULL DEFAULT 0,
  linhas_quarentena bigint NOT NULL DEFAULT 0,
  lotes bigint NOT NULL DEFAULT 0,
  ultima_execucao timestamptz,
  -- how far the target is behind the source's horizon when the last batch ended
  lag_segundos double precision,
  lag_bytes bigint,
  -- the last verification: counts and checksums of both sides, computed in the databases
  verificacao jsonb,
  verificado_em timestamptz,
  CONSTRAINT migration_tabelas_fase_check
    CHECK (fase IN ('pendente', 'bulk', 'sync', 'cdc', 'verificada')),
  CONSTRAINT migration_tabelas_watermark_check
    CHECK ((watermark_at IS NULL) = (watermark_id IS NULL))
);
--> statement-breakpoint

-- Rows the new schema refuses: the source row's id and why, never its values (they stay in the
-- source; no PII is copied here). A later version of the row that applies cleanly removes it.
CREATE TABLE migration.quarentena (
  tabela text NOT NULL,
  id uuid NOT NULL,
  motivo text NOT NULL,
  -- a constraint name or SQLSTATE, never row values
  detalhe text,
  origem_updated_at timestamptz,
  registrado_em timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT migration_quarentena_pkey PRIMARY KEY (tabela, id)
);
