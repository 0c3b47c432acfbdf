import type { PoolClient } from "@neondatabase/serverless";
import { z } from "zod";
import type { EndpointView, NeonControlPlane } from "../neon/api";
import { asJobError, isTransientNeonError } from "../neon/errors";
import { branchPolicies } from "../neon/policy";
import { withOwnerLock } from "../owner-session";
import { defineJob, type JobContext, type JobResult, PermanentJobError } from "../types";
import { type CurrentLimits, decideScaling, type MetricSample, type ScalingDecision } from "./decide";

/** decideScaling reads the samples of this window (it needs `sustainedSamples`, 3 by default). */
export const SAMPLE_WINDOW_MS = 15 * 60_000;
/** Samples older than this are purged by the job; decisions, the audit trail, after DECISIONS_KEPT_MS. */
export const SAMPLES_KEPT_MS = 7 * 86_400_000;
export const DECISIONS_KEPT_MS = 90 * 86_400_000;
/** Session-level advisory lock: one autoscale run at a time (db/migrate.ts holds ...011). */
const LOCK_KEY = 7_246_301_015;

/**
 * Autoscaling of the main compute's limits, every minute (decide.ts decides; this job measures,
 * applies and records). Neon has no CPU metrics API, so load is measured from the database:
 * active client sessions of this database (the sampling session excluded) over the compute's
 * vCPUs, its autoscaling_limit_max_cu (1 CU = 1 vCPU). One sample per minute slot is stored in
 * analytics.autoscale_amostras, the last 15 minutes are read back, and the decision — hold too — is
 * written to analytics.autoscale_decisoes before any PATCH and marked applied (or its error) after.
 *
 * Duplicate deliveries: the run holds an advisory lock (a concurrent one answers skipped), the
 * sample and the decision are unique per endpoint and minute, and a redelivery of a minute whose
 * change is not marked applied re-sends that same change instead of deciding again. A change not
 * known to have failed counts for the cooldown, so a run that died after its PATCH never steps
 * twice. A suspended compute is not sampled (the query would wake it up).
 */
export const autoscale = defineJob({
  name: "autoscale",
  description: "Samples the main compute's load and moves its autoscaling max limit within the policy",
  payload: z.object({}).strict(),
  schedule: { cron: "* * * * *", retries: 1, payload: {} },
  async run(ctx): Promise<JobResult> {
    const neon = ctx.neon;
    if (!neon) return { status: "skipped", reason: "the Neon API is not configured (NEON_API_KEY)" };
    if (!ctx.ownerUrl) return { status: "skipped", reason: "DATABASE_OWNER_URL is not set for this worker" };
    const endpoint = await mainEndpoint(neon).catch((err) => Promise.reject(asJobError(err)));
    if (!endpoint) return { status: "skipped", reason: "the default branch has no read_write endpoint" };
    if (endpoint.state === "idle")
      return { status: "skipped", reason: "the compute is suspended", endpoint_id: endpoint.id };

    const run = await withOwnerLock(ctx, ctx.ownerUrl, LOCK_KEY, (client) =>
      runLocked(ctx, neon, client, endpoint),
    );
    return run.busy ? { status: "skipped", reason: "another autoscale run is in progress" } : run.value;
  },
});

/** The default branch's read_write endpoint: the compute DATABASE_OWNER_URL reaches. */
async function mainEndpoint(neon: NeonControlPlane): Promise<EndpointView | null> {
  const branches = await neon.listBranches();
  const main = branches.find((b) => b.default);
  if (!main) throw new PermanentJobError("the Neon project has no default branch");
  return (await neon.listEndpoints(main.id)).find((e) => e.type === "read_write") ?? null;
}

interface DecisionRow {
  id: string;
  acao: ScalingDecision["action"];
  min_cu_depois: number;
  max_cu_depois: number;
  motivo: string;
  amostras: number;
  aplicada: boolean;
  erro: string | null;
}

async function runLocked(
  ctx: JobContext,
  neon: NeonControlPlane,
  client: PoolClient,
  endpoint: EndpointView,
): Promise<JobResult> {
  const now = ctx.clock.now();
  const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const current: CurrentLimits = {
    autoscaling_limit_min_cu: endpoint.autoscaling_limit_min_cu,
    autoscaling_limit_max_cu: endpoint.autoscaling_limit_max_cu,
  };

  const earlier = await client.query<DecisionRow>(
    `SELECT id::text, acao, min_cu_depois, max_cu_depois, motivo, amostras, aplicada, erro
       FROM analytics.autoscale_decisoes WHERE endpoint_id = $1 AND minuto = $2`,
    [endpoint.id, minute],
  );
  const existing = earlier.rows[0];
  if (existing) {
    if (existing.acao === "hold" || existing.aplicada)
      return {
        status: "skipped",
        reason: "this minute was already decided",
        decision: view(endpoint, existing),
      };
    // Redelivered after its PATCH failed or was never confirmed: the same change, once more.
    return apply(ctx, neon, client, endpoint, current, existing);
  }

  // The sample: this database's active client sessions, the sampling session excluded, over the
  // vCPUs the compute may use. Needs pg_read_all_stats to see other roles' sessions (Neon's
  // neon_superuser has it); a second delivery of the minute keeps the first sample.
  const vcpus = endpoint.autoscaling_limit_max_cu;
  await client.query(
    `INSERT INTO analytics.autoscale_amostras (endpoint_id, minuto, sessoes_ativas, vcpus, utilizacao)
     SELECT $1, $2, a.n, $3::float8, a.n / $3::float8
       FROM (SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
              WHERE state = 'active' AND backend_type = 'client backend'
                AND pid <> pg_catalog.pg_backend_pid() AND datname = pg_catalog.current_database()) a
     ON CONFLICT ON CONSTRAINT autoscale_amostras_pkey DO NOTHING`,
    [endpoint.id, minute, vcpus],
  );
  await client.query("DELETE FROM analytics.autoscale_amostras WHERE minuto < $1", [
    new Date(minute.getTime() - SAMPLES_KEPT_MS),
  ]);
  await client.query("DELETE FROM analytics.autoscale_decisoes WHERE em < $1", [
    new Date(minute.getTime() - DECISIONS_KEPT_MS),
  ]);
  const samples = await client.query<{ minuto: Date; utilizacao: number; sessoes_ativas: number }>(
    `SELECT minuto, utilizacao, sessoes_ativas FROM analytics.autoscale_amostras
      WHERE endpoint_id = $1 AND minuto > $2 AND minuto <= $3 ORDER BY minuto`,
    [endpoint.id, new Date(minute.getTime() - SAMPLE_WINDOW_MS), minute],
  );
  // The cooldown counts from the last change that was applied or may have been: marked applied,
  // not marked at all (the run died after its PATCH), or failed with an error while the endpoint
  // shows its limits anyway (a timeout after Neon had accepted the PATCH).
  const last = await client.query<{ em: Date | null }>(
    `SELECT max(em) AS em FROM analytics.autoscale_decisoes
      WHERE endpoint_id = $1 AND acao <> 'hold'
        AND (aplicada OR erro IS NULL OR (min_cu_depois = $2 AND max_cu_depois = $3))`,
    [endpoint.id, current.autoscaling_limit_min_cu, current.autoscaling_limit_max_cu],
  );

  const metricSamples: MetricSample[] = samples.rows.map((s) => ({
    at: new Date(s.minuto).toISOString(),
    cpuUtilization: Number(s.utilizacao),
    activeConnections: Number(s.sessoes_ativas),
  }));
  const main = branchPolicies().find((p) => p.name === "main")!.endpoint;
  let decision: ScalingDecision;
  try {
    decision = decideScaling({
      samples: metricSamples,
      policy: { minCu: main.autoscaling_limit_min_cu, maxCu: main.autoscaling_limit_max_cu },
      current,
      state: last.rows[0]?.em ? { lastChangeAt: new Date(last.rows[0].em).toISOString() } : {},
      now,
    });
  } catch (err) {
    throw new PermanentJobError((err as Error).message); // a bad policy or reading: no retry fixes it
  }

  const inserted = await client.query<DecisionRow>(
    `INSERT INTO analytics.autoscale_decisoes
       (endpoint_id, minuto, em, acao, min_cu_antes, max_cu_antes, min_cu_depois, max_cu_depois, motivo, amostras)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT ON CONSTRAINT autoscale_decisoes_endpoint_minuto_key DO NOTHING
     RETURNING id::text, acao, min_cu_depois, max_cu_depois, motivo, amostras, aplicada, erro`,
    [
      endpoint.id,
      minute,
      now,
      decision.action,
      current.autoscaling_limit_min_cu,
      current.autoscaling_limit_max_cu,
      decision.limits.autoscaling_limit_min_cu,
      decision.limits.autoscaling_limit_max_cu,
      decision.reason,
      metricSamples.length,
    ],
  );
  const row = inserted.rows[0];
  if (!row) return { status: "skipped", reason: "this minute was already decided", endpoint_id: endpoint.id };
  ctx.logger.info("autoscale_decision", {
    endpoint_id: endpoint.id,
    action: decision.action,
    samples: metricSamples.length,
    utilization: metricSamples.at(-1)?.cpuUtilization,
    max_cu: decision.limits.autoscaling_limit_max_cu,
  });
  if (decision.action === "hold") return { status: "done", ...view(endpoint, row) };
  return apply(ctx, neon, client, endpoint, current, row);
}

/** PATCHes the decided limits (unless they are already in place) and marks the decision. */
async function apply(
  ctx: JobContext,
  neon: NeonControlPlane,
  client: PoolClient,
  endpoint: EndpointView,
  current: CurrentLimits,
  row: DecisionRow,
): Promise<JobResult> {
  const limits = { autoscaling_limit_min_cu: row.min_cu_depois, autoscaling_limit_max_cu: row.max_cu_depois };
  const inPlace =
    current.autoscaling_limit_min_cu === limits.autoscaling_limit_min_cu &&
    current.autoscaling_limit_max_cu === limits.autoscaling_limit_max_cu;
  try {
    if (!inPlace) await neon.updateEndpoint(endpoint.id, limits);
  } catch (err) {
    const message = (err as Error).message.slice(0, 500);
    await client.query("UPDATE analytics.autoscale_decisoes SET erro = $2 WHERE id = $1", [row.id, message]);
    ctx.logger.error("autoscale_patch_failed", {
      endpoint_id: endpoint.id,
      status: (err as { status?: number }).status,
    });
    if (isTransientNeonError(err)) throw err; // QStash redelivers; the minute's change is sent again
    return { status: "done", ...view(endpoint, { ...row, erro: message }) };
  }
  await client.query("UPDATE analytics.autoscale_decisoes SET aplicada = true, erro = NULL WHERE id = $1", [
    row.id,
  ]);
  return { status: "done", ...view(endpoint, { ...row, aplicada: true, erro: null }) };
}

function view(endpoint: EndpointView, row: DecisionRow) {
  return {
    endpoint_id: endpoint.id,
    action: row.acao,
    applied: row.aplicada,
    error: row.erro,
    reason: row.motivo,
    samples: row.amostras,
    limits: { autoscaling_limit_min_cu: row.min_cu_depois, autoscaling_limit_max_cu: row.max_cu_depois },
  };
}
