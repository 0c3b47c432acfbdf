/**
 * The migration-sync job end to end with the app in process: the QStash emulator delivers the
 * start message, each table's chain publishes its next batch (flow control, deduplication ids)
 * until caught up, and the target behind the local Neon endpoint ends with every legacy row that
 * the new schema accepts — each once — and the rest in quarantine. Every message is also
 * delivered a second time by hand: the watermark's compare-and-set makes it a no-op.
 */
import { Client } from "@upstash/qstash";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATED_TABLES } from "../../db/migration/tables";
import { openClient } from "../../db/owner-client";
import { SYSTEM_SQL } from "../../db/session";
import { type QStashEmulator, startQStash } from "../../dev/qstash";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { type ServedApp, serveApp, upstashVars } from "../harness/app";
import { probePostgres } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import { createLegacyDatabase, type LegacyDatabase } from "../harness/legacy";
import { signQStash } from "../harness/qstash";

const noPostgres = await probePostgres();
if (noPostgres && process.env.CI === "true")
  throw new Error(`CI needs PostgreSQL for the legacy source: ${noPostgres}`);

describe.skipIf(noPostgres)("migration-sync job through QStash", () => {
  let t: TestEndpoint;
  let redis: UpstashRedisEmulator;
  let qstash: QStashEmulator;
  let app: ServedApp;
  let source: pg.Client;
  const legacyName = `legacy_job_${process.pid}`;
  let legacy: LegacyDatabase;
  beforeAll(async () => {
    legacy = await createLegacyDatabase(legacyName);
    source = legacy.client;
    await source.query(`
      insert into fisioterapeutas (id, nome, email, crefito)
        select ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'Fisio ' || g, 'f' || g || '@x.br', 'CREFITO-3/' || g
          from generate_series(1, 3) g;
      insert into pacientes (id, nome, email, data_nascimento, cpf, fisioterapeuta_id)
        select ('00000000-0000-4000-8001-' || lpad(g::text, 12, '0'))::uuid, 'Paciente ' || g, 'p' || g || '@x.br',
               case when g = 7 then '30/02/1990' else '01/02/1990' end,
               case when g = 9 then lpad('8', 11, '0') else lpad(g::text, 11, '0') end,
               ('00000000-0000-4000-8000-' || lpad((1 + g % 3)::text, 12, '0'))::uuid
          from generate_series(1, 40) g;
      insert into consultas (id, paciente_id, fisioterapeuta_id, data_hora, status)
        select ('00000000-0000-4000-8002-' || lpad(g::text, 12, '0'))::uuid,
               ('00000000-0000-4000-8001-' || lpad((1 + g % 40)::text, 12, '0'))::uuid,
               ('00000000-0000-4000-8000-' || lpad((1 + g % 3)::text, 12, '0'))::uuid,
               timestamptz '2026-12-01 11:00+00' + make_interval(hours => g), 'AGENDADA'
          from generate_series(1, 60) g;`);
    t = await startTestEndpoint("postgres", { prefix: "mig_job", migrate: true });
    redis = await startUpstashRedis({ port: 0 });
    qstash = await startQStash({ port: 0, retryBaseDelayMs: 20 });
    app = await serveApp({
      ...upstashVars(redis, qstash),
      DATABASE_URL: t.appUrl,
      DATABASE_OWNER_URL: t.ownerUrl,
      LEGACY_DATABASE_URL: legacy.url,
      NEON_FETCH_ENDPOINT: t.endpoint.sqlUrl,
      NEON_WS_PROXY: t.endpoint.wsProxy,
    });
  });
  afterAll(async () => {
    await app?.close();
    await qstash?.close();
    await redis?.close();
    await legacy?.close();
    await t?.close();
  });

  it("chains batches per table until caught up; every accepted row once, the rest in quarantine", {
    timeout: 90_000,
  }, async () => {
    const client = new Client({ baseUrl: qstash.url, token: qstash.token });
    await client.publishJSON({ url: `${app.url}/jobs/migration-sync`, body: { batch_size: 7 } });
    await qstash.idle(60_000);
    const owner = await openClient(t.ownerUrl);
    try {
      await owner.client.query("BEGIN");
      await owner.client.query(SYSTEM_SQL);
      const counts = (
        await owner.client.query(
          `select (select count(*) from pacientes)::int as pacientes, (select count(*) from consultas)::int as consultas,
                  (select count(*) from fisioterapeutas)::int as fisioterapeutas,
                  (select count(distinct id) from consultas)::int as distinct_consultas`,
        )
      ).rows[0];
      const q = (
        await owner.client.query(
          "select tabela, id::text, motivo from migration.quarentena order by tabela, id",
        )
      ).rows;
      const state = (
        await owner.client.query("select tabela, lotes::int from migration.tabelas order by tabela")
      ).rows;
      await owner.client.query("COMMIT");
      // Paciente 7: a date that is not one; paciente 9: paciente 8's CPF. Their consultas wait on
      // nothing: they are quarantined with them.
      expect(
        q.filter((r) => r.tabela === "pacientes").map((r) => [String(r.id).slice(-2), r.motivo]),
      ).toEqual([
        ["07", "data_nascimento_invalida"],
        ["09", "cpf_duplicado"],
      ]);
      expect(q.filter((r) => r.tabela === "consultas").every((r) => r.motivo === "pai_em_quarentena")).toBe(
        true,
      );
      const consultasQuarantined = q.filter((r) => r.tabela === "consultas").length;
      expect(consultasQuarantined).toBe(4); // g % 40 + 1 ∈ {7, 9}: g = 6, 8, 46, 48
      expect(counts).toEqual({
        pacientes: 38,
        consultas: 60 - consultasQuarantined,
        fisioterapeutas: 3,
        distinct_consultas: 60 - consultasQuarantined,
      });
      // 40 pacientes in batches of 7 → 6 batches, each one message of the chain.
      expect(state.find((s) => s.tabela === "pacientes")?.lotes).toBe(6);
      expect(state.map((s) => s.tabela).sort()).toEqual([...MIGRATED_TABLES].sort());
    } finally {
      await owner.close();
    }
  });

  it("a message delivered again applies nothing", async () => {
    const body = JSON.stringify({ table: "pacientes", batch_size: 7 });
    const url = `${app.url}/jobs/migration-sync`;
    const res = await fetch(url, {
      method: "POST",
      body,
      headers: {
        "upstash-signature": await signQStash(qstash.currentSigningKey, url, body),
        "upstash-message-id": `msg_again_${crypto.randomUUID()}`,
      },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "skipped", outcome: "caught-up", applied: 0 });
  });
});
