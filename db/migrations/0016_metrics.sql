-- Metric samples (observability): what the metrics-poll job measures every minute — the database
-- (size, connections, cache hit ratio, dead tuples, long-running queries, partitions ahead), the
-- replicas' lag, the migration's sync and CDC lag, and the API's own figures read from Redis
-- (requests per second, latency percentiles, error rate). One row per metric, label set and
-- minute; Prometheus-style names (`db_cache_hit_ratio`, `api_latency_p95_ms`), labels as a flat
-- JSON object of strings. Written by the owner (the job's DATABASE_OWNER_URL), purged by the job
-- after its retention. The app role has no grant: admins read through the SECURITY DEFINER
-- functions below, which check the verified identity themselves (as app.estado_migracao does).
CREATE TABLE analytics.metricas (
  metrica text NOT NULL,
  rotulos jsonb NOT NULL DEFAULT '{}'::jsonb,
  em timestamptz NOT NULL,
  valor double precision NOT NULL,
  CONSTRAINT metricas_pkey PRIMARY KEY (metrica, rotulos, em),
  CONSTRAINT metricas_metrica_check CHECK (metrica ~ '^[a-z_][a-z0-9_]{0,99}$'),
  CONSTRAINT metricas_rotulos_check CHECK (jsonb_typeof(rotulos) = 'object'),
  -- no NaN or infinities: a sample is a number a chart and a rule can use
  CONSTRAINT metricas_valor_check CHECK (valor = valor AND valor > '-Infinity' AND valor < 'Infinity')
);
--> statement-breakpoint
-- The purge and the "latest" read go by time across metrics (the key serves per-metric ranges).
CREATE INDEX metricas_em_idx ON analytics.metricas (em);
--> statement-breakpoint
REVOKE ALL ON analytics.metricas FROM PUBLIC;
--> statement-breakpoint

-- The samples of some metrics between two instants, oldest first (admins only; at most 31 days
-- and 100 000 rows per call, so no request can read the whole table).
CREATE FUNCTION app.metricas_serie(p_metricas text[], p_de timestamptz, p_ate timestamptz)
  RETURNS TABLE (metrica text, rotulos jsonb, em timestamptz, valor double precision)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF app.role() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'only an admin may read the metrics' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_de IS NULL OR p_ate IS NULL OR p_ate < p_de OR p_ate - p_de > interval '31 days' THEN
    RAISE EXCEPTION 'a metrics range is from <= to, at most 31 days' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT m.metrica, m.rotulos, m.em, m.valor
      FROM analytics.metricas m
     WHERE m.metrica = ANY (p_metricas) AND m.em >= p_de AND m.em <= p_ate
     ORDER BY m.metrica, m.rotulos, m.em
     LIMIT 100000;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION app.metricas_serie(text[], timestamptz, timestamptz) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app.metricas_serie(text[], timestamptz, timestamptz) TO fisioflow_app;
--> statement-breakpoint

-- The newest sample of every metric and label set seen in the last `p_janela` (admins only).
CREATE FUNCTION app.metricas_recentes(p_janela interval DEFAULT interval '15 minutes')
  RETURNS TABLE (metrica text, rotulos jsonb, em timestamptz, valor double precision)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF app.role() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'only an admin may read the metrics' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_janela IS NULL OR p_janela <= interval '0' OR p_janela > interval '1 day' THEN
    RAISE EXCEPTION 'the window is more than 0 and at most 1 day' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT DISTINCT ON (m.metrica, m.rotulos) m.metrica, m.rotulos, m.em, m.valor
      FROM analytics.metricas m
     WHERE m.em >= now() - p_janela
     ORDER BY m.metrica, m.rotulos, m.em DESC;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION app.metricas_recentes(interval) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app.metricas_recentes(interval) TO fisioflow_app;
