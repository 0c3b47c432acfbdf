-- The autoscale job's memory (jobs/autoscale): the load it sampled on the main compute, and every
-- decision it took from those samples. Neon has no CPU metrics API, so the job measures load from
-- the database itself: active client sessions over the compute's vCPUs (1 CU = 1 vCPU at the
-- endpoint's max limit). Written by the owner (the job's DATABASE_OWNER_URL); the app role has no
-- grant on either table. An admin read, when the API needs one, goes through a SECURITY DEFINER
-- function that checks the identity itself (as app.estado_migracao does), not through a grant.

-- One sample per endpoint and minute: the minute is the job's scheduled slot, so a duplicate or
-- retried delivery of the same minute inserts nothing (ON CONFLICT DO NOTHING) and the decision is
-- taken from the same data. Purged after 7 days by the job itself.
CREATE TABLE analytics.autoscale_amostras (
  endpoint_id text NOT NULL,
  minuto timestamptz NOT NULL,
  -- state = 'active' client backends of this database, the sampling session excluded
  sessoes_ativas integer NOT NULL,
  -- the endpoint's autoscaling_limit_max_cu when sampled
  vcpus double precision NOT NULL,
  -- sessoes_ativas / vcpus: decideScaling's cpuUtilization (above 1 when sessions queue)
  utilizacao double precision NOT NULL,
  medido_em timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT autoscale_amostras_pkey PRIMARY KEY (endpoint_id, minuto),
  CONSTRAINT autoscale_amostras_minuto_check CHECK (extract(epoch FROM minuto) % 60 = 0),
  CONSTRAINT autoscale_amostras_sessoes_check CHECK (sessoes_ativas >= 0),
  CONSTRAINT autoscale_amostras_vcpus_check CHECK (vcpus > 0),
  CONSTRAINT autoscale_amostras_utilizacao_check CHECK (utilizacao >= 0)
);
--> statement-breakpoint
-- The purge deletes by minute across endpoints (the primary key serves the per-endpoint reads).
CREATE INDEX autoscale_amostras_minuto_idx ON analytics.autoscale_amostras (minuto);
--> statement-breakpoint
REVOKE ALL ON analytics.autoscale_amostras FROM PUBLIC;
--> statement-breakpoint

-- Every decision, hold included: the limits before and after, decideScaling's reason, how many
-- samples it saw, and whether the PATCH to Neon was applied (or the error it failed with; ids and
-- Neon's message, never a secret). One per endpoint and minute, like the samples. A change is
-- written before the PATCH (aplicada false, no error) and marked after it, so a run that dies in
-- between leaves a row that still counts for the cooldown and that a redelivery completes.
CREATE TABLE analytics.autoscale_decisoes (
  id bigint GENERATED ALWAYS AS IDENTITY,
  endpoint_id text NOT NULL,
  minuto timestamptz NOT NULL,
  -- the job's clock when it decided (decideScaling's `now`; the cooldown counts from it)
  em timestamptz NOT NULL,
  acao text NOT NULL,
  min_cu_antes double precision NOT NULL,
  max_cu_antes double precision NOT NULL,
  min_cu_depois double precision NOT NULL,
  max_cu_depois double precision NOT NULL,
  motivo text NOT NULL,
  amostras integer NOT NULL,
  aplicada boolean NOT NULL DEFAULT false,
  erro text,
  CONSTRAINT autoscale_decisoes_pkey PRIMARY KEY (id),
  CONSTRAINT autoscale_decisoes_endpoint_minuto_key UNIQUE (endpoint_id, minuto),
  CONSTRAINT autoscale_decisoes_acao_check CHECK (acao IN ('scale_up', 'scale_down', 'hold')),
  CONSTRAINT autoscale_decisoes_amostras_check CHECK (amostras >= 0),
  -- a hold changes nothing and sends nothing
  CONSTRAINT autoscale_decisoes_hold_check CHECK (
    acao <> 'hold' OR (NOT aplicada AND erro IS NULL
                       AND min_cu_depois = min_cu_antes AND max_cu_depois = max_cu_antes)),
  CONSTRAINT autoscale_decisoes_erro_check CHECK (NOT (aplicada AND erro IS NOT NULL))
);
--> statement-breakpoint
-- The cooldown's "last change" and the ops reads: an endpoint's decisions by time.
CREATE INDEX autoscale_decisoes_endpoint_em_idx ON analytics.autoscale_decisoes (endpoint_id, em);
--> statement-breakpoint
CREATE INDEX autoscale_decisoes_em_idx ON analytics.autoscale_decisoes (em);
--> statement-breakpoint
REVOKE ALL ON analytics.autoscale_decisoes FROM PUBLIC;
