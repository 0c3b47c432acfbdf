-- analytics: derived data, filled by owner-run jobs, read by admins.
ALTER TABLE analytics.consultas_diarias ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE analytics.consultas_diarias FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY consultas_diarias_admin_read ON analytics.consultas_diarias FOR SELECT
  USING (app.role() = 'admin');
--> statement-breakpoint
CREATE POLICY consultas_diarias_system ON analytics.consultas_diarias TO CURRENT_USER
  USING (app.role() = 'system') WITH CHECK (app.role() = 'system');
--> statement-breakpoint
GRANT SELECT ON analytics.consultas_diarias TO fisioflow_app;
--> statement-breakpoint
-- Recompute [desde, ate) (UTC days). Run as the owner with app.role = 'system'.
CREATE FUNCTION analytics.refresh_consultas_diarias(desde date, ate date) RETURNS integer
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  DELETE FROM analytics.consultas_diarias WHERE dia >= desde AND dia < ate;
  INSERT INTO analytics.consultas_diarias
    (dia, fisioterapeuta_id, total, realizadas, canceladas, faltas, minutos_agendados)
  SELECT (c.data_consulta AT TIME ZONE 'UTC')::date, c.fisioterapeuta_id, count(*),
         count(*) FILTER (WHERE c.status = 'realizada'),
         count(*) FILTER (WHERE c.status = 'cancelada'),
         count(*) FILTER (WHERE c.status = 'falta'),
         coalesce(sum(c.duracao_min) FILTER (WHERE c.status <> 'cancelada'), 0)
    FROM public.consultas c
   WHERE c.data_consulta >= (desde::timestamp AT TIME ZONE 'UTC')
     AND c.data_consulta < (ate::timestamp AT TIME ZONE 'UTC')
   GROUP BY 1, 2;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION analytics.refresh_consultas_diarias(date, date) FROM PUBLIC;
