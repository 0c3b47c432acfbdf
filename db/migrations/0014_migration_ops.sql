-- The migration's CDC state and what the admin API may read of the migration.

-- One row per logical replication slot on the source. applied_lsn is the commit LSN of the last
-- source transaction applied to the target, written in the same target transaction as its
-- changes and moved by compare-and-set: after a crash between the target's commit and the slot's
-- advance, the next run finds those changes already applied (their commit LSN <= applied_lsn),
-- skips them and only then advances the slot. Nothing is lost and nothing applied twice.
CREATE TABLE migration.cdc (
  slot text PRIMARY KEY,
  applied_lsn pg_lsn,
  transacoes bigint NOT NULL DEFAULT 0,
  alteracoes bigint NOT NULL DEFAULT 0,
  -- WAL the slot still holds for us, and the age of the oldest change not yet applied
  lag_bytes bigint,
  lag_segundos double precision,
  ultima_execucao timestamptz
);
--> statement-breakpoint

-- GET /v1/ops/migration: the app role has no USAGE on schema migration, so an admin reads it
-- through this function, which checks the verified identity itself. Ids and counts only.
CREATE FUNCTION app.estado_migracao() RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF app.role() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'only an admin may read the migration state' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN jsonb_build_object(
    'tabelas', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'tabela', t.tabela,
               'fase', t.fase,
               'watermark', CASE WHEN t.watermark_at IS NULL THEN NULL
                                 ELSE jsonb_build_object('updated_at', t.watermark_at, 'id', t.watermark_id) END,
               'linhas_aplicadas', t.linhas_aplicadas,
               'lotes', t.lotes,
               'quarentena', (SELECT count(*) FROM migration.quarentena q WHERE q.tabela = t.tabela),
               'quarentena_por_motivo', coalesce((
                 SELECT jsonb_object_agg(m.motivo, m.n)
                   FROM (SELECT q.motivo, count(*) AS n FROM migration.quarentena q
                          WHERE q.tabela = t.tabela GROUP BY q.motivo) m), '{}'::jsonb),
               'lag_segundos', t.lag_segundos,
               'ultima_execucao', t.ultima_execucao,
               'verificacao', t.verificacao,
               'verificado_em', t.verificado_em)
             ORDER BY t.tabela)
        FROM migration.tabelas t), '[]'::jsonb),
    'cdc', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'slot', c.slot,
               'applied_lsn', c.applied_lsn::text,
               'transacoes', c.transacoes,
               'alteracoes', c.alteracoes,
               'lag_bytes', c.lag_bytes,
               'lag_segundos', c.lag_segundos,
               'ultima_execucao', c.ultima_execucao)
             ORDER BY c.slot)
        FROM migration.cdc c), '[]'::jsonb));
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION app.estado_migracao() FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app.estado_migracao() TO fisioflow_app;
