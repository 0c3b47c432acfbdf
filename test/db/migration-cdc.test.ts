/**
 * CDC (db/migration/cdc.ts) from a legacy PostgreSQL on a PRIVATE cluster (wal_level = logical,
 * so it can be restarted and crashed without touching the machine's server) into the new schema
 * behind the local Neon endpoint, on both endpoint backends. The slot and publication are created
 * before any data is written, so every change reaches the slot; the target must end equal to the
 * source (verify.ts) with deletes propagated, and stay so through the faults: two runs at once, a
 * crash between the target's commit and the slot's advance, a source crash and restart, and the
 * sync having applied newer versions before CDC replays older ones.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installLegacySchema } from "../../db/legacy/generate";
import {
  type CdcBatchResult,
  type CdcOptions,
  CdcTruncateError,
  cdcBatch,
  ensureCdc,
} from "../../db/migration/cdc";
import { syncBatch } from "../../db/migration/sync";
import { MIGRATED_TABLES } from "../../db/migration/tables";
import { verifyTable } from "../../db/migration/verify";
import { openClient } from "../../db/owner-client";
import { SYSTEM_SQL } from "../../db/session";
import { findPgBin, type PrivateCluster, startPrivateCluster } from "../../dev/cluster";
import { migrationCdc } from "../../jobs/migration-cdc";
import { type JobContext, PermanentJobError } from "../../jobs/types";
import { testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import { syncAllTables } from "../harness/legacy";

const bin = findPgBin();
if (bin.dir === null) {
  if (process.env.CI === "true")
    throw new Error(`CI must run the CDC tests, but no PostgreSQL server binaries: looked in ${bin.looked}`);
  console.warn(`[skip] CDC tests: no PostgreSQL server binaries (looked in ${bin.looked})`);
}
const backends = await testBackends();

const SLOT = "fisioflow_migracao";
const id = (group: number, n: number) =>
  `00000000-0000-4000-8${String(group).padStart(3, "0")}-${String(n).padStart(12, "0")}`;
/** Text that does not compress: stored out of line (TOAST), so an UPDATE that leaves it alone
 * sends it as "unchanged" and CDC must fetch it. */
const BIG = `(SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 300) g)`;

type Statement = [string, unknown[]?];
type Tx = Statement[];

for (const { name, skip } of backends) {
  describe.skipIf(skip || bin.dir === null)(`CDC from a private cluster into the ${name} endpoint`, () => {
    let cluster: PrivateCluster;
    let legacyUrl: string;
    let source: pg.Client;
    let t: TestEndpoint;
    let target: Awaited<ReturnType<typeof openClient>>;
    let target2: Awaited<ReturnType<typeof openClient>>;
    const extraSources: pg.Client[] = [];

    async function connectSource(): Promise<pg.Client> {
      const c = new pg.Client({ connectionString: legacyUrl });
      // The cluster is crashed on purpose: a dropped connection must not be an uncaught error.
      c.on("error", () => {});
      await c.connect();
      return c;
    }
    /** Runs statements in one source transaction; returns the rows they changed (= the changes). */
    async function tx(statements: Tx): Promise<number> {
      await source.query("BEGIN");
      let n = 0;
      try {
        for (const [sql, params] of statements) n += (await source.query(sql, params)).rowCount ?? 0;
        await source.query("COMMIT");
      } catch (err) {
        await source.query("ROLLBACK");
        throw err;
      }
      return n;
    }
    const cdc = (opts: CdcOptions = {}) => cdcBatch(source, target.client as never, { slot: SLOT, ...opts });
    /** Batches until the slot is drained. */
    async function cdcAll(maxChanges = 1000): Promise<CdcBatchResult[]> {
      const out: CdcBatchResult[] = [];
      for (let i = 0; i < 500; i++) {
        const r = await cdc({ maxChanges });
        out.push(r);
        if (r.outcome === "waiting") throw new Error("CDC waits for a parent");
        if (!r.more) return out;
      }
      throw new Error("CDC did not catch up in 500 batches");
    }
    async function targetRows(sql: string, params: unknown[] = []) {
      await target.client.query("BEGIN");
      try {
        await target.client.query(SYSTEM_SQL);
        return (await target.client.query(sql, params)).rows;
      } finally {
        await target.client.query("COMMIT");
      }
    }
    async function cdcState() {
      const [s] = await targetRows(
        "select transacoes::int, alteracoes::int, applied_lsn::text from migration.cdc where slot = $1",
        [SLOT],
      );
      return s as { transacoes: number; alteracoes: number; applied_lsn: string | null };
    }
    async function slotLsn(): Promise<string> {
      const { rows } = await source.query(
        "select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1",
        [SLOT],
      );
      return rows[0]!.lsn;
    }
    async function expectVerified() {
      for (const table of MIGRATED_TABLES) {
        const v = await verifyTable(source, target.client as never, table);
        expect(v.ok, `${table}: ${JSON.stringify(v)}`).toBe(true);
      }
    }
    const syncAll = () => syncAllTables(source, target.client as never);
    const fisio = (n: number): Statement => [
      "insert into fisioterapeutas (id, nome, email, crefito) values ($1, $2, $3, $4)",
      [id(1, n), `Fisio ${n}`, `fisio${n}@clinica.br`, `CREFITO-3/${n}-F`],
    ];
    const paciente = (n: number, nome: string, cpf: string | null, f: number): Statement => [
      `insert into pacientes (id, nome, email, data_nascimento, cpf, fisioterapeuta_id)
       values ($1, $2, $3, '05/03/1980', $4, $5)`,
      [id(2, n), nome, `p${n}@x.br`, cpf, id(1, f)],
    ];
    const consulta = (n: number, p: number, f: number, at: string): Statement => [
      `insert into consultas (id, paciente_id, fisioterapeuta_id, data_hora, status) values ($1, $2, $3, $4, 'AGENDADA')`,
      [id(3, n), id(2, p), id(1, f), at],
    ];

    beforeAll(async () => {
      cluster = await startPrivateCluster({
        settings: { wal_level: "logical", max_replication_slots: 4, max_wal_senders: 4 },
      });
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      await admin.query("create database legacy");
      await admin.end();
      const u = new URL(cluster.url);
      u.pathname = "/legacy";
      legacyUrl = u.toString();
      source = await connectSource();
      await installLegacySchema(source);
      // Before any data: every change from here on is in the slot.
      expect(await ensureCdc(source, { slot: SLOT })).toEqual({
        createdPublication: true,
        addedTables: [],
        createdSlot: true,
      });
      expect(await ensureCdc(source, { slot: SLOT })).toEqual({
        createdPublication: false,
        addedTables: [],
        createdSlot: false,
      });
      t = await startTestEndpoint(name, { prefix: "mig_cdc", migrate: true });
      target = await openClient(t.ownerUrl);
      target2 = await openClient(t.ownerUrl);
    });
    afterAll(async () => {
      await target?.close();
      await target2?.close();
      for (const c of [source, ...extraSources]) await c?.end().catch(() => {});
      await t?.close();
      await cluster?.destroy();
    });

    it("after the sync, replays the slot without regressing rows the sync applied newer", {
      timeout: 60_000,
    }, async () => {
      await tx([fisio(1), fisio(2)]);
      await tx([
        paciente(1, "v1", "529.982.247-25", 1),
        consulta(1, 1, 1, "2026-12-01 12:00+00"),
        [
          "insert into prontuarios (id, paciente_id, fisioterapeuta_id, consulta_id, conteudo) values ($1, $2, $3, $4, 'Evolução')",
          [id(4, 1), id(2, 1), id(1, 1), id(3, 1)],
        ],
      ]);
      await tx([["update pacientes set nome = 'v2' where id = $1", [id(2, 1)]]]);
      await syncAll();
      expect(await targetRows("select nome from pacientes where id = $1", [id(2, 1)])).toEqual([
        { nome: "v2" },
      ]);
      // After the sync: a newer version, a new row, deletes (one of a prontuario, append-only).
      await tx([["update pacientes set nome = 'v3' where id = $1", [id(2, 1)]]]);
      await tx([paciente(2, "Depois do sync", null, 2)]);
      await tx([
        ["delete from prontuarios where id = $1", [id(4, 1)]],
        ["delete from consultas where id = $1", [id(3, 1)]],
      ]);

      // One transaction per batch: after each, the row is never older than what the sync applied.
      const seen: string[] = [];
      let skippedBySync = 0;
      for (let i = 0; i < 20; i++) {
        const r = await cdc({ maxChanges: 1 });
        skippedBySync += r.skippedBySync;
        const [row] = await targetRows("select nome from pacientes where id = $1", [id(2, 1)]);
        seen.push(row!.nome as string);
        if (!r.more) break;
      }
      expect(
        seen.every((n) => n === "v2" || n === "v3"),
        seen.join(","),
      ).toBe(true);
      expect(seen.at(-1)).toBe("v3");
      expect(skippedBySync).toBeGreaterThan(0);
      expect(await targetRows("select id from consultas where id = $1", [id(3, 1)])).toEqual([]);
      expect(
        await targetRows("select tabela, id::text, motivo from migration.quarentena order by tabela, id"),
      ).toEqual([{ tabela: "prontuarios", id: id(4, 1), motivo: "prontuario_apagado_na_origem" }]);
      await expectVerified();
      expect(await slotLsn()).toBe((await cdcState()).applied_lsn);
    });

    it("applies inserts, updates and deletes across tables, each source transaction once", {
      timeout: 60_000,
    }, async () => {
      const before = await cdcState();
      let changes = 0;
      changes += await tx([
        fisio(3),
        [
          `insert into exercicios (id, nome, descricao, categoria) values ($1, 'Ponte', ${BIG}, 'Fortalecimento')`,
          [id(5, 1)],
        ],
      ]);
      // pacientes and consultas in one transaction
      changes += await tx([
        paciente(3, "Clara Nunes", "111.444.777-35", 3),
        consulta(2, 3, 3, "2026-12-02 12:00+00"),
        consulta(3, 3, 3, "2026-12-03 12:00+00"),
      ]);
      // the same row updated twice in one transaction
      changes += await tx([
        ["update pacientes set nome = 'Clara N.' where id = $1", [id(2, 3)]],
        [
          "update pacientes set nome = 'Clara Nunes Silva', telefone = '11 99999-0000' where id = $1",
          [id(2, 3)],
        ],
        ["update consultas set status = 'CONFIRMADA' where id = $1", [id(3, 2)]],
      ]);
      changes += await tx([
        [
          "insert into prontuarios (id, paciente_id, fisioterapeuta_id, consulta_id, conteudo) values ($1, $2, $3, $4, 'Dor lombar')",
          [id(4, 2), id(2, 3), id(1, 3), id(3, 2)],
        ],
        [
          `insert into prescricoes (id, paciente_id, exercicio_id, fisioterapeuta_id, series, repeticoes, frequencia)
           values ($1, $2, $3, $4, 3, 12, 'diária')`,
          [id(6, 1), id(2, 3), id(5, 1), id(1, 3)],
        ],
        paciente(4, "CPF curto", "123", 3),
        consulta(4, 4, 3, "2026-12-04 12:00+00"),
      ]);
      // descricao (TOAST) unchanged: not in the stream, fetched from the source
      changes += await tx([
        ["update exercicios set nome = 'Ponte unilateral' where id = $1", [id(5, 1)]],
        ["delete from prescricoes where id = $1", [id(6, 1)]],
        ["delete from consultas where id = $1", [id(3, 3)]],
      ]);
      // inserted and deleted in the same transaction: nothing arrives
      changes += await tx([
        paciente(5, "Efêmera", null, 3),
        ["delete from pacientes where id = $1", [id(2, 5)]],
      ]);
      // a quarantined row corrected: it applies and leaves the quarantine
      changes += await tx([["update pacientes set cpf = '390.533.447-05' where id = $1", [id(2, 4)]]]);
      changes += await tx([paciente(7, "Duplicada", null, 3), consulta(5, 7, 3, "2026-12-05 12:00+00")]);
      // a consulta moved to a new paciente and the old paciente deleted, in one transaction: the
      // delete is refused until the upserts move the consulta
      changes += await tx([
        paciente(8, "Unificada", null, 3),
        ["update consultas set paciente_id = $1 where id = $2", [id(2, 8), id(3, 5)]],
        ["delete from pacientes where id = $1", [id(2, 7)]],
      ]);
      const sourceTransactions = 9;

      const results = await cdcAll(3);
      expect(results.length).toBeGreaterThan(2);
      expect(results.reduce((n, r) => n + r.transactions, 0)).toBe(sourceTransactions);
      const after = await cdcState();
      expect(after.transacoes - before.transacoes).toBe(sourceTransactions);
      expect(after.alteracoes - before.alteracoes).toBe(changes);
      expect(after.applied_lsn).toBe(await slotLsn());

      expect(await targetRows("select nome, telefone from pacientes where id = $1", [id(2, 3)])).toEqual([
        { nome: "Clara Nunes Silva", telefone: "11 99999-0000" },
      ]);
      expect(await targetRows("select status from consultas where id = $1", [id(3, 2)])).toEqual([
        { status: "confirmada" },
      ]);
      const [ex] = await targetRows("select nome, length(descricao) as len from exercicios where id = $1", [
        id(5, 1),
      ]);
      expect(ex).toEqual({ nome: "Ponte unilateral", len: 9600 });
      expect(
        await targetRows(
          `select 'prescricoes' as t, id::text from prescricoes where id = $1
           union all select 'consultas', id::text from consultas where id = $2
           union all select 'pacientes', id::text from pacientes where id = any($3)`,
          [id(6, 1), id(3, 3), [id(2, 5), id(2, 7)]],
        ),
      ).toEqual([]);
      expect(await targetRows("select paciente_id::text from consultas where id = $1", [id(3, 5)])).toEqual([
        { paciente_id: id(2, 8) },
      ]);
      expect(
        await targetRows(
          "select tabela, id::text, motivo from migration.quarentena where tabela <> 'prontuarios' order by tabela, id",
        ),
      ).toEqual([{ tabela: "consultas", id: id(3, 4), motivo: "pai_em_quarentena" }]);
      const fases = await targetRows(
        "select tabela, fase from migration.tabelas where tabela = any($1) order by tabela",
        [["pacientes", "consultas", "exercicios", "prescricoes"]],
      );
      expect(fases.every((f) => f.fase === "cdc")).toBe(true);
      const [lag] = await targetRows("select lag_segundos, lag_bytes from migration.cdc where slot = $1", [
        SLOT,
      ]);
      expect(lag!.lag_segundos).toBe(0);
      expect(Number(lag!.lag_bytes)).toBeGreaterThanOrEqual(0);
      await expectVerified();
    });

    it("two runs at once apply each transaction once (the compare-and-set)", {
      timeout: 60_000,
    }, async () => {
      const before = await cdcState();
      let changes = 0;
      for (let n = 10; n < 14; n++)
        changes += await tx([
          paciente(n, `Paciente ${n}`, null, 1),
          consulta(n, n, 2, `2026-12-${n} 15:00+00`),
        ]);
      const source2 = await connectSource();
      extraSources.push(source2);
      // Both runs read applied_lsn and peek before either applies: they meet here.
      let arrived = 0;
      let release!: () => void;
      const met = new Promise<void>((r) => {
        release = r;
      });
      const barrier = () => {
        let first = true;
        return async () => {
          if (!first) return;
          first = false;
          if (++arrived === 2) release();
          await Promise.race([met, new Promise((r) => setTimeout(r, 10_000))]);
        };
      };
      const [a, b] = await Promise.all([
        cdcBatch(source, target.client as never, { slot: SLOT, beforeTransaction: barrier() }),
        cdcBatch(source2, target2.client as never, { slot: SLOT, beforeTransaction: barrier() }),
      ]);
      expect(arrived).toBe(2);
      expect([a.outcome, b.outcome].sort()).toEqual(["applied", "moved"]);
      expect(a.transactions + b.transactions).toBe(4);
      const after = await cdcState();
      expect(after.transacoes - before.transacoes).toBe(4);
      expect(after.alteracoes - before.alteracoes).toBe(changes);
      const r = await cdc();
      expect(r).toMatchObject({ outcome: "caught-up", transactions: 0, more: false });
      expect(await slotLsn()).toBe(after.applied_lsn);
      expect(
        await targetRows("select count(*)::int as n from pacientes where nome like 'Paciente 1_'"),
      ).toEqual([{ n: 4 }]);
      await expectVerified();
    });

    it("a crash between the target's commit and the slot's advance: the next run skips what was applied", {
      timeout: 60_000,
    }, async () => {
      const before = await cdcState();
      const slotBefore = await slotLsn();
      const c1 = await tx([["update pacientes set nome = 'Antes da queda' where id = $1", [id(2, 10)]]]);
      const c2 = await tx([
        ["update pacientes set nome = 'Depois da queda' where id = $1", [id(2, 11)]],
        ["delete from consultas where id = $1", [id(3, 12)]],
      ]);
      await expect(
        cdc({
          afterTargetCommit: async () => {
            throw new Error("simulated crash");
          },
        }),
      ).rejects.toThrow("simulated crash");
      const mid = await cdcState();
      expect(mid.transacoes - before.transacoes).toBe(1);
      expect(await slotLsn()).toBe(slotBefore); // the slot was not advanced
      const r = await cdc();
      expect(r).toMatchObject({ outcome: "applied", skippedAlreadyApplied: 1, transactions: 1 });
      const after = await cdcState();
      expect(after.transacoes - before.transacoes).toBe(2);
      expect(after.alteracoes - before.alteracoes).toBe(c1 + c2);
      expect(await slotLsn()).toBe(after.applied_lsn);
      expect(
        await targetRows("select nome from pacientes where id = any($1) order by id", [
          [id(2, 10), id(2, 11)],
        ]),
      ).toEqual([{ nome: "Antes da queda" }, { nome: "Depois da queda" }]);
      await expectVerified();
    });

    it("the source crashes and restarts between batches: nothing lost, nothing twice", {
      timeout: 90_000,
    }, async () => {
      const before = await cdcState();
      let changes = 0;
      for (let n = 20; n < 23; n++) changes += await tx([paciente(n, `Reinício ${n}`, null, 2)]);
      const first = await cdc({ maxChanges: 1 });
      expect(first).toMatchObject({ transactions: 1, more: true });
      // A crash: the slot's advance may not have reached the disk; the WAL is replayed.
      await cluster.stop("immediate");
      await source.end().catch(() => {});
      await cluster.start();
      source = await connectSource();
      changes += await tx([
        ["update pacientes set nome = 'Reinício 20 (editado)' where id = $1", [id(2, 20)]],
        ["delete from pacientes where id = $1", [id(2, 21)]],
      ]);
      changes += await tx([paciente(23, "Reinício 23", null, 1)]);
      const rest = await cdcAll(2);
      const after = await cdcState();
      expect(after.transacoes - before.transacoes).toBe(5);
      expect(after.alteracoes - before.alteracoes).toBe(changes);
      expect(rest.reduce((n, r) => n + r.transactions, 0)).toBe(4);
      expect(await slotLsn()).toBe(after.applied_lsn);
      expect(
        await targetRows("select id::text, nome from pacientes where id = any($1) order by id", [
          [id(2, 20), id(2, 21), id(2, 22), id(2, 23)],
        ]),
      ).toEqual([
        { id: id(2, 20), nome: "Reinício 20 (editado)" },
        { id: id(2, 22), nome: "Reinício 22" },
        { id: id(2, 23), nome: "Reinício 23" },
      ]);
      await expectVerified();
    });

    it("waits, without applying or advancing, for a parent only the sync can bring", {
      timeout: 60_000,
    }, async () => {
      // As if the sync were ahead for fisioterapeutas: CDC skips fisio 9's insert (the sync
      // "has it"), but the sync has not copied it yet, so its paciente must wait.
      const [mark] = await targetRows(
        "select watermark_at::text as at, watermark_id::text as id from migration.tabelas where tabela = 'fisioterapeutas'",
      );
      await targetRows(
        "update migration.tabelas set watermark_at = now() + interval '1 hour' where tabela = 'fisioterapeutas'",
      );
      await tx([fisio(9)]);
      expect(await cdc()).toMatchObject({ outcome: "applied", transactions: 1, skippedBySync: 1 });
      await targetRows(
        "update migration.tabelas set watermark_at = $1, watermark_id = $2 where tabela = 'fisioterapeutas'",
        [mark!.at, mark!.id],
      );
      await tx([paciente(50, "Espera o pai", null, 9)]);
      const before = await cdcState();
      const slotBefore = await slotLsn();
      const waiting = await cdc();
      expect(waiting).toMatchObject({ outcome: "waiting", transactions: 0, more: false });
      expect(waiting.lagSeconds).toBeGreaterThanOrEqual(0);
      expect(await cdcState()).toEqual(before);
      expect(await slotLsn()).toBe(slotBefore);
      const r = await syncBatch(source, target.client as never, "fisioterapeutas", { horizonMarginMs: 0 });
      // (with fisio 3, which CDC applied after the sync's last run: an idempotent upsert)
      expect(r.outcome).toBe("applied");
      expect(await cdc()).toMatchObject({ outcome: "applied", transactions: 1, applied: 1 });
      expect(await targetRows("select nome from pacientes where id = $1", [id(2, 50)])).toEqual([
        { nome: "Espera o pai" },
      ]);
      await expectVerified();
    });

    it("the migration-cdc job chains itself while the slot holds more, then stops", {
      timeout: 60_000,
    }, async () => {
      for (let n = 30; n < 33; n++) await tx([paciente(n, `Job ${n}`, null, 1)]);
      const published: { job: string; payload: unknown; opts: unknown }[] = [];
      const logged: unknown[] = [];
      const log = (msg: string, fields?: Record<string, unknown>) => logged.push({ msg, ...fields });
      const ctx = (legacy: string | undefined): JobContext => ({
        logger: { info: log, warn: log, error: log },
        clock: { now: () => new Date() },
        redis: null,
        ownerUrl: t.ownerUrl,
        legacyUrl: legacy,
        publisher: {
          async publish(job, payload, opts) {
            published.push({ job, payload, opts });
            return { messageId: `msg_${published.length}` };
          },
        },
        messageId: "msg_0",
        retried: 0,
        waitUntil: () => {},
      });
      const payload = migrationCdc.payload.parse({ max_changes: 1 });
      expect(payload).toEqual({ slot: SLOT, max_changes: 1 });
      expect(await migrationCdc.run(ctx(undefined), payload)).toMatchObject({ status: "skipped" });

      const first = await migrationCdc.run(ctx(legacyUrl), payload);
      expect(first).toMatchObject({ status: "done", transactions: 1, more: true, next_message_id: "msg_1" });
      expect(published[0]).toMatchObject({
        job: "migration-cdc",
        payload: { slot: SLOT, max_changes: 1 },
        opts: { delaySeconds: 0, flowControl: { key: `migration-cdc-${SLOT}`, parallelism: 1 } },
      });
      const dedup = (published[0]!.opts as { deduplicationId: string }).deduplicationId;
      expect(dedup).toMatch(/^migration-cdc-fisioflow_migracao-[0-9a-f]{32}$/);
      let r = first;
      for (let i = 0; i < 10 && r.more; i++) r = await migrationCdc.run(ctx(legacyUrl), payload);
      // Three transactions, one per message; the fourth finds the slot drained and chains nothing.
      expect(r).toMatchObject({
        status: "skipped",
        outcome: "caught-up",
        more: false,
        next_message_id: null,
      });
      expect(published.length).toBe(3);
      const ids = published.map((p) => (p.opts as { deduplicationId: string }).deduplicationId);
      expect(new Set(ids).size).toBe(ids.length); // each position chained once
      expect(await targetRows("select count(*)::int as n from pacientes where nome like 'Job %'")).toEqual([
        { n: 3 },
      ]);
      // Logs carry ids, counts and LSNs, never row values.
      expect(JSON.stringify(logged)).not.toMatch(/Job 3|@x\.br/);
      await expectVerified();
    });

    it("a row CDC deletes between a sync batch's read and its commit does not come back", {
      timeout: 60_000,
    }, async () => {
      await tx([paciente(70, "Apagada Durante", null, 1), paciente(71, "Fica", null, 1)]);
      await cdcAll();
      await syncAll();
      await tx([["update pacientes set nome = 'Apagada Durante (v2)' where id = $1", [id(2, 70)]]]);
      const r = await syncBatch(source, target.client as never, "pacientes", {
        horizonMarginMs: 0,
        // The batch holds v2; meanwhile the row is deleted and CDC applies the delete.
        afterRead: async () => {
          await tx([["delete from pacientes where id = $1", [id(2, 70)]]]);
          await cdcAll();
        },
      });
      expect(r.outcome).toBe("applied");
      expect(
        await targetRows("select nome from pacientes where id = any($1) order by id", [
          [id(2, 70), id(2, 71)],
        ]),
      ).toEqual([{ nome: "Fica" }]);
      await cdcAll();
      await expectVerified();
    });

    it("the source restarts in the middle of a sync batch: the batch fails whole, the next applies it once", {
      timeout: 90_000,
    }, async () => {
      await tx([paciente(80, "Meio do Lote", null, 1), paciente(81, "Meio do Lote 2", null, 2)]);
      const [{ n: before }] = await targetRows(
        "select linhas_aplicadas::int as n from migration.tabelas where tabela = 'pacientes'",
      );
      await expect(
        syncBatch(source, target.client as never, "pacientes", {
          horizonMarginMs: 0,
          afterRead: async () => {
            await cluster.stop("immediate");
            await cluster.start();
          },
        }),
      ).rejects.toThrow();
      await source.end().catch(() => {});
      source = await connectSource();
      await syncAll();
      await cdcAll();
      const [{ n: after }] = await targetRows(
        "select linhas_aplicadas::int as n from migration.tabelas where tabela = 'pacientes'",
      );
      expect((after as number) - (before as number)).toBe(2);
      expect(
        await targetRows("select count(*)::int as n from pacientes where id = any($1)", [
          [id(2, 80), id(2, 81)],
        ]),
      ).toEqual([{ n: 2 }]);
      await expectVerified();
    });

    it("a TRUNCATE in the source stops CDC for good, after what came before it", {
      timeout: 60_000,
    }, async () => {
      await tx([paciente(40, "Antes do truncate", null, 1)]);
      await tx([["truncate prescricoes", []]]);
      await expect(cdc()).rejects.toBeInstanceOf(CdcTruncateError);
      expect(await targetRows("select nome from pacientes where id = $1", [id(2, 40)])).toEqual([
        { nome: "Antes do truncate" },
      ]);
      expect(await slotLsn()).toBe((await cdcState()).applied_lsn);
      await expect(cdc()).rejects.toThrow(/truncated public\.prescricoes/);
      const ctx = {
        logger: { info() {}, warn() {}, error() {} },
        clock: { now: () => new Date() },
        redis: null,
        ownerUrl: t.ownerUrl,
        legacyUrl,
        publisher: null,
        messageId: "msg_t",
        retried: 0,
        waitUntil: () => {},
      } satisfies JobContext;
      await expect(migrationCdc.run(ctx, migrationCdc.payload.parse({}))).rejects.toBeInstanceOf(
        PermanentJobError,
      );
    });
  });
}
