import type { PoolClient } from "@neondatabase/serverless";
import { z } from "zod";
import { SYSTEM_SQL } from "../../db/session";
import { withOwnerLock } from "../owner-session";
import { defineJob, type JobContext, type JobResult } from "../types";
import {
  type AlertRule,
  canonicalLabels,
  deduplicationId,
  matches,
  notificationBody,
  type Severity,
} from "./notification";
import { INITIAL_STATE, type InstanceState, type Operator, STALE_AFTER_MS, step } from "./state";

/** Session-level advisory lock: one alerts run at a time (autoscale holds ...015). */
const LOCK_KEY = 7_246_301_017;
/** History (and its deliveries) is kept this long; an inactive instance whose label set stopped
 * reporting, this long after its last sample. */
export const HISTORY_KEPT_MS = 90 * 86_400_000;
export const IDLE_INSTANCE_KEPT_MS = 7 * 86_400_000;
/** A webhook notification QStash refused this many times is given up (its error stays recorded). */
export const MAX_ATTEMPTS = 10;
/** An announcement not published within this long is given up. */
export const UNSENT_KEPT_MS = 86_400_000;
/** Deliveries QStash makes to a webhook after the first fails. */
const WEBHOOK_RETRIES = 3;
const PUBLISH_BATCH = 100;

/**
 * Alert evaluation, every minute (rules: analytics.alertas_regras, migration 0017; the state
 * machine: ./state.ts). One transaction, as the owner under its 'system' identity: read the
 * enabled rules and the newest fresh sample of every label set of their metrics, advance each
 * instance, write the instances, the history of every transition and, for announced ones, one
 * outbox row per webhook. After the commit the outbox is published through QStash, each row with
 * its deduplication id (rule, label set, transition, its sample time, webhook), and marked sent.
 *
 * Duplicate or concurrent deliveries: runs hold an advisory lock (a concurrent one answers
 * skipped); state advances only on a sample newer than the last evaluated, so a repeated run
 * finds nothing to do; a transition is unique in the history, so it is queued once; and a row
 * published again after a crash (before it was marked sent) carries the same deduplication id,
 * which QStash drops. Rows QStash did not take are retried by the next runs, MAX_ATTEMPTS times
 * and for at most a day.
 */
export const alerts = defineJob({
  name: "alerts",
  description:
    "Evaluates the alert rules on the newest metric samples and notifies their webhooks through QStash",
  payload: z.object({}).strict(),
  schedule: { cron: "* * * * *", retries: 1, payload: {} },
  async run(ctx): Promise<JobResult> {
    if (!ctx.ownerUrl) return { status: "skipped", reason: "DATABASE_OWNER_URL is not set for this worker" };
    const run = await withOwnerLock(ctx, ctx.ownerUrl, LOCK_KEY, async (client): Promise<JobResult> => {
      const evaluated = await asSystem(client, () => evaluate(ctx, client, ctx.clock.now()));
      const delivered = await deliver(ctx, client);
      ctx.logger.info("alerts_evaluated", { ...evaluated, ...delivered });
      return { status: "done", ...evaluated, ...delivered };
    });
    return run.busy ? { status: "skipped", reason: "another alerts run is in progress" } : run.value;
  },
});

/** `fn` in one transaction under the owner's 'system' identity (the alert tables force RLS). */
async function asSystem<T>(client: PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  try {
    await client.query(SYSTEM_SQL);
    const out = await fn();
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

interface RuleRow {
  id: string;
  nome: string;
  metrica: string;
  operador: Operator;
  limiar: number;
  por_segundos: number;
  severidade: Severity;
  repetir_segundos: number;
  filtro: Record<string, string>;
  rotulos: Record<string, string>;
  webhooks: string[];
}

interface InstanceRow {
  regra_id: string;
  rotulos: Record<string, string>;
  estado: InstanceState["state"];
  desde: Date | null;
  ativa_desde: Date | null;
  ultima_amostra: Date | null;
  valor: number | null;
  notificada_em: Date | null;
  episodio_notificado: boolean;
}

const ms = (d: Date | string | null) => (d === null ? null : new Date(d).getTime());
const date = (t: number | null) => (t === null ? null : new Date(t));
/** Labels as stored: a flat object of strings. */
const stringLabels = (o: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries((o ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));

async function evaluate(ctx: JobContext, client: PoolClient, now: Date) {
  // Instances their rule no longer covers (disabled, or moved to another metric or filter) are
  // dropped, the change recorded; nothing is announced for them.
  const dropped = await client.query(
    `WITH gone AS (
       DELETE FROM analytics.alertas_instancias i USING analytics.alertas_regras r
        WHERE r.id = i.regra_id AND (NOT r.ativa OR i.metrica <> r.metrica OR NOT i.rotulos @> r.filtro)
        RETURNING i.regra_id, i.rotulos, i.metrica, i.estado, r.nome, r.operador, r.limiar, r.severidade)
     INSERT INTO analytics.alertas_historico
       (regra_id, regra_nome, metrica, rotulos, de, para, em, valor, operador, limiar, severidade)
     SELECT regra_id, nome, metrica, rotulos, estado, 'inactive', $1, NULL, operador, limiar, severidade
       FROM gone WHERE estado <> 'inactive'
     ON CONFLICT ON CONSTRAINT alertas_historico_transicao_key DO NOTHING`,
    [now],
  );

  const rules: AlertRule[] = (
    await client.query<RuleRow>(
      `SELECT id::text, nome, metrica, operador, limiar, por_segundos, severidade, repetir_segundos,
              filtro, rotulos, webhooks
         FROM analytics.alertas_regras WHERE ativa ORDER BY id`,
    )
  ).rows.map((r) => ({
    id: r.id,
    name: r.nome,
    metric: r.metrica,
    operator: r.operador,
    threshold: Number(r.limiar),
    forSeconds: r.por_segundos,
    severity: r.severidade,
    repeatSeconds: r.repetir_segundos,
    match: stringLabels(r.filtro),
    labels: stringLabels(r.rotulos),
    webhooks: r.webhooks,
  }));

  // The newest sample of every label set of the rules' metrics, if fresh (older ones are no
  // evidence: step() would ignore them anyway). Samples dated after `now` wait for a later run.
  const metrics = [...new Set(rules.map((r) => r.metric))];
  const samples = metrics.length
    ? (
        await client.query<{ metrica: string; rotulos: unknown; em: Date; valor: number }>(
          `SELECT DISTINCT ON (metrica, rotulos) metrica, rotulos, em, valor
             FROM analytics.metricas
            WHERE metrica = ANY ($1::text[]) AND em >= $2 AND em <= $3
            ORDER BY metrica, rotulos, em DESC`,
          [metrics, new Date(now.getTime() - STALE_AFTER_MS), now],
        )
      ).rows.map((s) => ({
        metric: s.metrica,
        labels: stringLabels(s.rotulos),
        at: ms(s.em)!,
        value: Number(s.valor),
      }))
    : [];

  const known = new Map<string, InstanceState>();
  for (const i of (
    await client.query<InstanceRow>(
      `SELECT regra_id::text, rotulos, estado, desde, ativa_desde, ultima_amostra, valor, notificada_em,
              episodio_notificado
         FROM analytics.alertas_instancias`,
    )
  ).rows) {
    known.set(`${i.regra_id}\n${canonicalLabels(stringLabels(i.rotulos))}`, {
      state: i.estado,
      since: ms(i.desde),
      activeSince: ms(i.ativa_desde),
      lastSampleAt: ms(i.ultima_amostra),
      value: i.valor === null ? null : Number(i.valor),
      notifiedAt: ms(i.notificada_em),
      notified: i.episodio_notificado,
    });
  }

  let transitions = 0;
  let queued = 0;
  for (const rule of rules) {
    const spec = {
      operator: rule.operator,
      threshold: rule.threshold,
      forMs: rule.forSeconds * 1000,
      repeatMs: rule.repeatSeconds * 1000,
    };
    for (const sample of samples) {
      if (sample.metric !== rule.metric || !matches(rule.match, sample.labels)) continue;
      const prev = known.get(`${rule.id}\n${canonicalLabels(sample.labels)}`) ?? INITIAL_STATE;
      const next = step(spec, prev, sample, now.getTime());
      if (next.state === prev) continue;
      await saveInstance(client, rule, sample.labels, next.state);
      for (const t of next.transitions) {
        transitions++;
        const inserted = await client.query<{ id: string }>(
          `INSERT INTO analytics.alertas_historico
             (regra_id, regra_nome, metrica, rotulos, de, para, em, valor, operador, limiar, severidade, notificacao)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT ON CONSTRAINT alertas_historico_transicao_key DO NOTHING
           RETURNING id::text`,
          [
            rule.id,
            rule.name,
            rule.metric,
            JSON.stringify(sample.labels),
            t.from,
            t.to,
            new Date(t.at),
            t.value,
            rule.operator,
            rule.threshold,
            rule.severity,
            t.notify,
          ],
        );
        const historyId = inserted.rows[0]?.id;
        if (!historyId || !t.notify || rule.webhooks.length === 0) continue;
        // The episode began when it fired: now for a new one, earlier for a repeat or a resolve.
        const since = t.from === "firing" ? (prev.since ?? t.at) : t.at;
        const body = await notificationBody(rule, sample.labels, t, since);
        for (const url of rule.webhooks) {
          const r = await client.query(
            `INSERT INTO analytics.alertas_notificacoes (historico_id, url, deduplicacao, corpo, criada_em)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT ON CONSTRAINT alertas_notificacoes_deduplicacao_key DO NOTHING`,
            [historyId, url, await deduplicationId(body.id, url), JSON.stringify(body), now],
          );
          queued += r.rowCount ?? 0;
        }
      }
    }
  }

  await client.query("DELETE FROM analytics.alertas_historico WHERE em < $1", [
    new Date(now.getTime() - HISTORY_KEPT_MS),
  ]);
  await client.query(
    "DELETE FROM analytics.alertas_instancias WHERE estado = 'inactive' AND ultima_amostra < $1",
    [new Date(now.getTime() - IDLE_INSTANCE_KEPT_MS)],
  );
  if (transitions) ctx.logger.info("alerts_transitions", { transitions, queued });
  return {
    rules: rules.length,
    samples: samples.length,
    transitions,
    dropped: dropped.rowCount ?? 0,
    queued,
  };
}

async function saveInstance(
  client: PoolClient,
  rule: AlertRule,
  labels: Record<string, string>,
  s: InstanceState,
) {
  await client.query(
    `INSERT INTO analytics.alertas_instancias
       (regra_id, rotulos, metrica, estado, desde, ativa_desde, ultima_amostra, valor, notificada_em,
        episodio_notificado, atualizada_em)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, pg_catalog.now())
     ON CONFLICT ON CONSTRAINT alertas_instancias_pkey DO UPDATE SET
       metrica = EXCLUDED.metrica, estado = EXCLUDED.estado, desde = EXCLUDED.desde,
       ativa_desde = EXCLUDED.ativa_desde, ultima_amostra = EXCLUDED.ultima_amostra, valor = EXCLUDED.valor,
       notificada_em = EXCLUDED.notificada_em, episodio_notificado = EXCLUDED.episodio_notificado,
       atualizada_em = EXCLUDED.atualizada_em`,
    [
      rule.id,
      JSON.stringify(labels),
      rule.metric,
      s.state,
      date(s.since),
      date(s.activeSince),
      date(s.lastSampleAt),
      s.value,
      date(s.notifiedAt),
      s.notified,
    ],
  );
}

/** Publishes the outbox through QStash, oldest first, marking each row as it goes. */
async function deliver(ctx: JobContext, client: PoolClient) {
  const pending = await asSystem(client, async () => {
    // A notification that could not go out for a day (QStash unconfigured or refusing) is stale
    // news: given up rather than delivered late.
    await client.query(
      `UPDATE analytics.alertas_notificacoes SET tentativas = $1, erro = coalesce(erro, 'expired unsent')
        WHERE enviada_em IS NULL AND tentativas < $1 AND criada_em < $2`,
      [MAX_ATTEMPTS, new Date(ctx.clock.now().getTime() - UNSENT_KEPT_MS)],
    );
    const r = await client.query<{ id: string; url: string; deduplicacao: string; corpo: unknown }>(
      `SELECT id::text, url, deduplicacao, corpo FROM analytics.alertas_notificacoes
        WHERE enviada_em IS NULL AND tentativas < $1 ORDER BY id LIMIT $2`,
      [MAX_ATTEMPTS, PUBLISH_BATCH],
    );
    return r.rows;
  });
  const publisher = ctx.publisher;
  if (!pending.length) return { sent: 0, failed: 0, unsent: 0 };
  if (!publisher?.publishToUrl) {
    ctx.logger.warn("alerts_cannot_publish", { unsent: pending.length });
    return { sent: 0, failed: 0, unsent: pending.length, reason: "QStash is not configured for publishing" };
  }
  let sent = 0;
  let failed = 0;
  for (const n of pending) {
    try {
      const { messageId } = await publisher.publishToUrl(n.url, n.corpo, {
        deduplicationId: n.deduplicacao,
        retries: WEBHOOK_RETRIES,
      });
      await asSystem(client, () =>
        client.query(
          `UPDATE analytics.alertas_notificacoes
              SET enviada_em = pg_catalog.now(), message_id = $2, tentativas = tentativas + 1, erro = NULL
            WHERE id = $1`,
          [n.id, messageId],
        ),
      );
      sent++;
    } catch (err) {
      failed++;
      // Kept for the admins' history view; the log line gets ids and the error's name only.
      const message = String((err as Error).message ?? err).slice(0, 300);
      await asSystem(client, () =>
        client.query(
          "UPDATE analytics.alertas_notificacoes SET tentativas = tentativas + 1, erro = $2 WHERE id = $1",
          [n.id, message],
        ),
      );
      ctx.logger.warn("alerts_publish_failed", { notification_id: n.id, error: (err as Error).name });
    }
  }
  return { sent, failed, unsent: pending.length - sent - failed };
}
