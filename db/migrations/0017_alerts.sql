-- The alert engine (jobs/alerts): rules over the metric samples of 0016, each rule's instances
-- (one per label set of its metric) with their state, the history of every state change, and the
-- outbox of webhook notifications the job publishes through QStash.
--
-- Access: the API reaches these tables as the app role, under forced RLS that shows them to
-- admins only (the verified identity, as analytics.consultas_diarias): admins manage the rules
-- (column grants: never the id or the timestamps) and read instances, history and deliveries.
-- The alerts job is the owner under its 'system' identity (SYSTEM_SQL), as the other jobs are.

CREATE TABLE analytics.alertas_regras (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  nome text NOT NULL,
  -- a metric name of analytics.metricas (it may not have samples yet)
  metrica text NOT NULL,
  -- no '=': a float is never compared for equality
  operador text NOT NULL,
  limiar double precision NOT NULL,
  -- how long the condition must hold, over consecutive samples, before the alert fires
  por_segundos integer NOT NULL DEFAULT 0,
  severidade text NOT NULL DEFAULT 'warning',
  -- a still-firing alert is announced again after this long; never sooner
  repetir_segundos integer NOT NULL DEFAULT 14400,
  -- the label subset a sample must carry to count ({} = every label set of the metric); each
  -- matching label set is an instance of its own
  filtro jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- attached to every notification (team, runbook, ...)
  rotulos jsonb NOT NULL DEFAULT '{}'::jsonb,
  webhooks text[] NOT NULL DEFAULT '{}',
  ativa boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT alertas_regras_pkey PRIMARY KEY (id),
  CONSTRAINT alertas_regras_nome_key UNIQUE (nome),
  CONSTRAINT alertas_regras_nome_check CHECK (char_length(nome) BETWEEN 1 AND 100),
  CONSTRAINT alertas_regras_metrica_check CHECK (metrica ~ '^[a-z_][a-z0-9_]{0,99}$'),
  CONSTRAINT alertas_regras_operador_check CHECK (operador IN ('>', '>=', '<', '<=')),
  CONSTRAINT alertas_regras_limiar_check CHECK (limiar = limiar AND limiar > '-Infinity' AND limiar < 'Infinity'),
  CONSTRAINT alertas_regras_por_check CHECK (por_segundos BETWEEN 0 AND 86400),
  CONSTRAINT alertas_regras_severidade_check CHECK (severidade IN ('info', 'warning', 'critical')),
  CONSTRAINT alertas_regras_repetir_check CHECK (repetir_segundos BETWEEN 60 AND 604800),
  CONSTRAINT alertas_regras_filtro_check CHECK (jsonb_typeof(filtro) = 'object'),
  CONSTRAINT alertas_regras_rotulos_check CHECK (jsonb_typeof(rotulos) = 'object'),
  CONSTRAINT alertas_regras_webhooks_check CHECK (
    cardinality(webhooks) <= 10 AND array_position(webhooks, NULL) IS NULL)
);
--> statement-breakpoint
CREATE TRIGGER alertas_regras_touch BEFORE UPDATE ON analytics.alertas_regras
  FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
--> statement-breakpoint

-- ------------------------------------------------------------------ default rules
-- No webhook: they fire into the history (and the dashboard) until an admin adds one. Inserted
-- before RLS is forced, which would hide the table from a migration without the 'system' identity.
INSERT INTO analytics.alertas_regras (nome, metrica, operador, limiar, por_segundos, severidade, repetir_segundos, rotulos)
VALUES
  ('db-connections-high', 'db_connections_ratio', '>', 0.8, 300, 'warning', 14400,
   '{"summary": "connections above 80% of max_connections"}'),
  ('api-latency-p95-high', 'api_latency_p95_ms', '>', 100, 300, 'warning', 14400,
   '{"summary": "API p95 latency above 100 ms"}'),
  ('db-cache-hit-ratio-low', 'db_cache_hit_ratio', '<', 0.99, 600, 'warning', 14400,
   '{"summary": "cache hit ratio below 0.99"}'),
  ('api-error-rate-high', 'api_error_rate', '>', 0.01, 300, 'critical', 3600,
   '{"summary": "API error rate above 1%"}'),
  ('replica-lag-high', 'replica_lag_seconds', '>', 30, 120, 'warning', 14400,
   '{"summary": "a read replica is more than 30 s behind"}'),
  ('migration-sync-lag-high', 'migration_sync_lag_seconds', '>', 300, 300, 'warning', 14400,
   '{"summary": "the migration sync is more than 5 minutes behind"}');
--> statement-breakpoint

-- One per rule and label set: jobs/alerts/state.ts's InstanceState. Times are sample times
-- (analytics.metricas.em), so a run repeated on the same samples decides the same.
CREATE TABLE analytics.alertas_instancias (
  regra_id uuid NOT NULL REFERENCES analytics.alertas_regras (id) ON DELETE CASCADE,
  -- the label set of the samples this instance follows
  rotulos jsonb NOT NULL,
  -- the rule's metric when the instance began: a rule moved to another metric (or filter)
  -- drops the instances that no longer apply
  metrica text NOT NULL,
  estado text NOT NULL,
  -- when the current state began
  desde timestamptz,
  -- the first sample of the current run of samples that hold the condition
  ativa_desde timestamptz,
  ultima_amostra timestamptz,
  valor double precision,
  -- the last "firing" notification, and whether this firing episode was announced
  notificada_em timestamptz,
  episodio_notificado boolean NOT NULL DEFAULT false,
  atualizada_em timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT alertas_instancias_pkey PRIMARY KEY (regra_id, rotulos),
  CONSTRAINT alertas_instancias_estado_check CHECK (estado IN ('inactive', 'pending', 'firing', 'resolved')),
  CONSTRAINT alertas_instancias_rotulos_check CHECK (jsonb_typeof(rotulos) = 'object')
);
--> statement-breakpoint
-- The firing view of the API and the dashboard.
CREATE INDEX alertas_instancias_estado_idx ON analytics.alertas_instancias (estado);
--> statement-breakpoint

-- Every state change and every repeated "firing" announcement. Kept when its rule is deleted
-- (the name and thresholds are copied); purged by the job after 90 days. A transition is unique
-- per rule, label set, states and sample time: a job run repeated on the same samples adds none.
CREATE TABLE analytics.alertas_historico (
  id bigint GENERATED ALWAYS AS IDENTITY,
  regra_id uuid NOT NULL,
  regra_nome text NOT NULL,
  metrica text NOT NULL,
  rotulos jsonb NOT NULL,
  de text NOT NULL,
  para text NOT NULL,
  -- the sample time of the transition (the job's time for an instance dropped with its rule's
  -- change: disabled, or moved to another metric or filter)
  em timestamptz NOT NULL,
  -- the sample's value (NULL for a dropped instance)
  valor double precision,
  operador text NOT NULL,
  limiar double precision NOT NULL,
  severidade text NOT NULL,
  -- 'firing' or 'resolved' when the change was announced, else NULL
  notificacao text,
  registrada_em timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT alertas_historico_pkey PRIMARY KEY (id),
  CONSTRAINT alertas_historico_transicao_key UNIQUE (regra_id, rotulos, de, para, em),
  CONSTRAINT alertas_historico_estados_check CHECK (
    de IN ('inactive', 'pending', 'firing', 'resolved') AND para IN ('inactive', 'pending', 'firing', 'resolved')),
  CONSTRAINT alertas_historico_notificacao_check CHECK (notificacao IN ('firing', 'resolved'))
);
--> statement-breakpoint
CREATE INDEX alertas_historico_em_idx ON analytics.alertas_historico (em);
--> statement-breakpoint
CREATE INDEX alertas_historico_regra_idx ON analytics.alertas_historico (regra_id, id);
--> statement-breakpoint

-- The outbox: one row per announced transition and webhook, written in the transaction that
-- records the transition and published after it commits. `deduplicacao` is the QStash
-- Upstash-Deduplication-Id (rule, label set, transition, its time, webhook), so publishing the
-- same row again after a crash is dropped by QStash. The body holds no PII and no secret.
CREATE TABLE analytics.alertas_notificacoes (
  id bigint GENERATED ALWAYS AS IDENTITY,
  historico_id bigint NOT NULL REFERENCES analytics.alertas_historico (id) ON DELETE CASCADE,
  url text NOT NULL,
  deduplicacao text NOT NULL,
  corpo jsonb NOT NULL,
  criada_em timestamptz NOT NULL DEFAULT pg_catalog.now(),
  enviada_em timestamptz,
  message_id text,
  tentativas integer NOT NULL DEFAULT 0,
  erro text,
  CONSTRAINT alertas_notificacoes_pkey PRIMARY KEY (id),
  CONSTRAINT alertas_notificacoes_deduplicacao_key UNIQUE (deduplicacao),
  CONSTRAINT alertas_notificacoes_tentativas_check CHECK (tentativas >= 0)
);
--> statement-breakpoint
CREATE INDEX alertas_notificacoes_pendentes_idx ON analytics.alertas_notificacoes (id) WHERE enviada_em IS NULL;
--> statement-breakpoint
CREATE INDEX alertas_notificacoes_historico_idx ON analytics.alertas_notificacoes (historico_id);
--> statement-breakpoint

-- ------------------------------------------------------------------ RLS: admins and the job
ALTER TABLE analytics.alertas_regras ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE analytics.alertas_regras FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE analytics.alertas_instancias ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE analytics.alertas_instancias FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE analytics.alertas_historico ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE analytics.alertas_historico FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE analytics.alertas_notificacoes ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE analytics.alertas_notificacoes FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY alertas_regras_admin ON analytics.alertas_regras
  USING ((SELECT app.role()) = 'admin') WITH CHECK ((SELECT app.role()) = 'admin');
--> statement-breakpoint
CREATE POLICY alertas_instancias_admin_read ON analytics.alertas_instancias FOR SELECT
  USING ((SELECT app.role()) = 'admin');
--> statement-breakpoint
CREATE POLICY alertas_historico_admin_read ON analytics.alertas_historico FOR SELECT
  USING ((SELECT app.role()) = 'admin');
--> statement-breakpoint
CREATE POLICY alertas_notificacoes_admin_read ON analytics.alertas_notificacoes FOR SELECT
  USING ((SELECT app.role()) = 'admin');
--> statement-breakpoint
CREATE POLICY alertas_regras_system ON analytics.alertas_regras TO CURRENT_USER
  USING ((SELECT app.role()) = 'system') WITH CHECK ((SELECT app.role()) = 'system');
--> statement-breakpoint
CREATE POLICY alertas_instancias_system ON analytics.alertas_instancias TO CURRENT_USER
  USING ((SELECT app.role()) = 'system') WITH CHECK ((SELECT app.role()) = 'system');
--> statement-breakpoint
CREATE POLICY alertas_historico_system ON analytics.alertas_historico TO CURRENT_USER
  USING ((SELECT app.role()) = 'system') WITH CHECK ((SELECT app.role()) = 'system');
--> statement-breakpoint
CREATE POLICY alertas_notificacoes_system ON analytics.alertas_notificacoes TO CURRENT_USER
  USING ((SELECT app.role()) = 'system') WITH CHECK ((SELECT app.role()) = 'system');
--> statement-breakpoint
REVOKE ALL ON analytics.alertas_regras, analytics.alertas_instancias, analytics.alertas_historico,
  analytics.alertas_notificacoes FROM PUBLIC;
--> statement-breakpoint
GRANT SELECT, DELETE ON analytics.alertas_regras TO fisioflow_app;
--> statement-breakpoint
GRANT INSERT (nome, metrica, operador, limiar, por_segundos, severidade, repetir_segundos, filtro, rotulos,
              webhooks, ativa),
      UPDATE (nome, metrica, operador, limiar, por_segundos, severidade, repetir_segundos, filtro, rotulos,
              webhooks, ativa)
  ON analytics.alertas_regras TO fisioflow_app;
--> statement-breakpoint
GRANT SELECT ON analytics.alertas_instancias, analytics.alertas_historico, analytics.alertas_notificacoes
  TO fisioflow_app;
