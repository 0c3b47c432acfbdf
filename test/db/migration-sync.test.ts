/**
 * The incremental sync (db/migration/sync.ts) from a legacy PostgreSQL database into the new
 * schema behind the local Neon endpoint, on both endpoint backends: mapping, quarantine, the
 * keyset watermark's compare-and-set, waiting for parents, and the horizon that keeps an open
 * source transaction's rows from being skipped.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { syncBatch } from "../../db/migration/sync";
import { MIGRATED_TABLES } from "../../db/migration/tables";
import { verifyTable } from "../../db/migration/verify";
import { openClient } from "../../db/owner-client";
import { SYSTEM_SQL } from "../../db/session";
import { postgresAdminUrl, probePostgres, testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import { createLegacyDatabase, type LegacyDatabase, syncAllTables } from "../harness/legacy";

const backends = await testBackends();
const noPostgres = await probePostgres();
if (noPostgres && process.env.CI === "true")
  throw new Error(`CI needs PostgreSQL for the legacy source: ${noPostgres}`);

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const FISIO = [id(1), id(2)];

for (const { name, skip } of backends) {
  describe.skipIf(skip || noPostgres)(`incremental sync into the ${name} endpoint`, () => {
    let t: TestEndpoint;
    let source: pg.Client;
    let legacy: LegacyDatabase;
    let legacyName: string;
    let target: Awaited<ReturnType<typeof openClient>>;
    let target2: Awaited<ReturnType<typeof openClient>>;

    const sync = (table: string, batchSize = 1000) =>
      syncBatch(source, target.client as never, table, { batchSize, horizonMarginMs: 0 });
    const syncAll = (batchSize = 1000) => syncAllTables(source, target.client as never, { batchSize });
    async function targetRows(sql: string, params: unknown[] = []) {
      await target.client.query("BEGIN");
      try {
        await target.client.query(SYSTEM_SQL);
        return (await target.client.query(sql, params)).rows;
      } finally {
        await target.client.query("COMMIT");
      }
    }

    beforeAll(async () => {
      t = await startTestEndpoint(name, { prefix: "mig_sync", migrate: true });
      legacyName = `legacy_sync_${name}_${process.pid}`;
      legacy = await createLegacyDatabase(legacyName);
      source = legacy.client;
      target = await openClient(t.ownerUrl);
      target2 = await openClient(t.ownerUrl);
      await source.query(
        `insert into fisioterapeutas (id, nome, email, crefito) values
           ($1, 'Ana Souza', 'Ana@Clinica.br ', 'CREFITO-3/1-F'), ($2, 'Bruno Lima', 'bruno@clinica.br', 'CREFITO-3/2-F')`,
        FISIO,
      );
      await source.query(
        `insert into pacientes (id, nome, email, data_nascimento, cpf, ativo, fisioterapeuta_id) values
           ($1, 'João da Silva', 'joao@x.br', '05/03/1980', '529.982.247-25', true, $6),
           ($2, 'Maria Conceição', 'maria@x.br', '31/02/1985', '11144477735', true, $6),
           ($3, 'Luís Alves', 'luis@x.br', '10/10/1990', '52998224725', false, $7),
           ($4, 'Paula Reis', null, '', null, true, $7),
           ($5, 'Rita Dias', 'rita@x.br', '01/01/2000', '12345', true, $6)`,
        [id(11), id(12), id(13), id(14), id(15), FISIO[0], FISIO[1]],
      );
      await source.query(
        `insert into consultas (id, paciente_id, fisioterapeuta_id, data_hora, duracao_min, status) values
           ($1, $5, $7, '2026-12-01 12:00+00', 50, 'AGENDADA'),
           ($2, $5, $7, '2026-12-01 12:30+00', 50, 'CONFIRMADA'),
           ($3, $6, $7, '2026-12-01 12:30+00', 50, 'CANCELADA'),
           ($4, $6, $8, '2026-12-02 12:00+00', 30, 'REALIZADA')`,
        [id(21), id(22), id(23), id(24), id(11), id(14), FISIO[0], FISIO[1]],
      );
      await source.query(
        `insert into consultas (id, paciente_id, fisioterapeuta_id, data_hora, status) values ($1, $2, $3, '2026-12-03 12:00+00', 'AGENDADA')`,
        [id(25), id(12), FISIO[0]],
      );
    });
    afterAll(async () => {
      await target?.close();
      await target2?.close();
      await legacy?.close();
      await t?.close();
    });

    it("waits for parents that have not arrived", async () => {
      const r = await sync("consultas");
      expect(r.outcome).toBe("waiting");
      expect(r.applied).toBe(0);
    });

    it("migrates every table in keyset batches, mapped, and quarantines what the new schema refuses", async () => {
      const results = await syncAll(2);
      expect(results.reduce((n, r) => n + r.batches, 0)).toBeGreaterThan(5);
      const pac = await targetRows(
        "select id::text, nome, email, data_nascimento::text as nasc, cpf, status from pacientes order by id",
      );
      expect(pac).toEqual([
        {
          id: id(11),
          nome: "João da Silva",
          email: "joao@x.br",
          nasc: "1980-03-05",
          cpf: "52998224725",
          status: "ativo",
        },
        { id: id(14), nome: "Paula Reis", email: null, nasc: null, cpf: null, status: "ativo" },
      ]);
      const q = await targetRows(
        "select tabela, id::text, motivo, detalhe from migration.quarentena order by tabela, id",
      );
      expect(q).toEqual([
        { tabela: "consultas", id: id(22), motivo: "consulta_sobreposta", detalhe: "consultas_no_overlap" },
        { tabela: "consultas", id: id(25), motivo: "pai_em_quarentena", detalhe: "pacientes" },
        { tabela: "pacientes", id: id(12), motivo: "data_nascimento_invalida", detalhe: null },
        { tabela: "pacientes", id: id(13), motivo: "cpf_duplicado", detalhe: "pacientes_cpf_key" },
        { tabela: "pacientes", id: id(15), motivo: "cpf_invalido", detalhe: null },
      ]);
      const cons = await targetRows("select id::text, status, duracao_min from consultas order by id");
      expect(cons).toEqual([
        { id: id(21), status: "agendada", duracao_min: 50 },
        { id: id(23), status: "cancelada", duracao_min: 50 },
        { id: id(24), status: "realizada", duracao_min: 30 },
      ]);
      const fisio = await targetRows("select email from fisioterapeutas order by id");
      expect(fisio).toEqual([{ email: "ana@clinica.br" }, { email: "bruno@clinica.br" }]);
      const state = await targetRows(
        "select tabela, fase, watermark_id::text as wm, linhas_aplicadas::int as n, linhas_quarentena::int as q from migration.tabelas where tabela in ('pacientes', 'consultas') order by tabela",
      );
      expect(state).toEqual([
        { tabela: "consultas", fase: "sync", wm: id(25), n: 3, q: 2 },
        { tabela: "pacientes", fase: "sync", wm: id(15), n: 2, q: 3 },
      ]);
    });

    it("applies later source changes, and a corrected row leaves the quarantine", async () => {
      await source.query("update pacientes set nome = 'João S. Silva' where id = $1", [id(11)]);
      await source.query("update pacientes set data_nascimento = '28/02/1985' where id = $1", [id(12)]);
      await syncAll();
      const rows = await targetRows(
        "select id::text, nome, data_nascimento::text as nasc from pacientes where id = any($1) order by id",
        [[id(11), id(12)]],
      );
      expect(rows).toEqual([
        { id: id(11), nome: "João S. Silva", nasc: "1980-03-05" },
        { id: id(12), nome: "Maria Conceição", nasc: "1985-02-28" },
      ]);
      const q = await targetRows(
        "select id::text from migration.quarentena where tabela = 'pacientes' order by id",
      );
      expect(q).toEqual([{ id: id(13) }, { id: id(15) }]);
    });

    it("applies a batch once when two runs race from the same watermark", async () => {
      await source.query(
        `insert into pacientes (id, nome, cpf, fisioterapeuta_id) select ('00000000-0000-4000-8001-' || lpad(g::text, 12, '0'))::uuid, 'Paciente ' || g, null, $1 from generate_series(1, 40) g`,
        [FISIO[0]],
      );
      const [a, b] = await Promise.all([
        syncBatch(source, target.client as never, "pacientes", { batchSize: 25, horizonMarginMs: 0 }),
        syncBatch(source, target2.client as never, "pacientes", { batchSize: 25, horizonMarginMs: 0 }),
      ]);
      expect([a.outcome, b.outcome].sort()).toEqual(["applied", "moved"]);
      await syncAll(25);
      const [{ n }] = await targetRows(
        "select count(*)::int as n from pacientes where nome like 'Paciente %'",
      );
      expect(n).toBe(40);
      const [{ applied }] = await targetRows(
        "select linhas_aplicadas::int as applied from migration.tabelas where tabela = 'pacientes'",
      );
      expect(applied).toBe(2 + 1 + 1 + 40); // the first sync, the two updates, the 40: nothing twice
    });

    it("verifies every table in the databases, and notices a difference on either side", async () => {
      await syncAll();
      for (const table of MIGRATED_TABLES) {
        const v = await verifyTable(source, target.client as never, table);
        expect(v.ok, `${table}: ${JSON.stringify(v)}`).toBe(true);
      }
      const p = await verifyTable(source, target.client as never, "pacientes");
      expect(p).toMatchObject({ quarantined: 2, ok: true });
      expect(p.source.count).toBe(p.target.count);
      // A value changed in the target only: same count, another checksum.
      await targetRows("update pacientes set telefone = '(11) 90000-0000' where id = $1", [id(11)]);
      const changed = await verifyTable(source, target.client as never, "pacientes");
      expect(changed.ok).toBe(false);
      expect(changed.source.count).toBe(changed.target.count);
      expect(changed.source.checksum).not.toBe(changed.target.checksum);
      // A row deleted in the source only (the sync cannot see deletes; CDC will): counts differ.
      await targetRows("update pacientes set telefone = null where id = $1", [id(11)]);
      expect((await verifyTable(source, target.client as never, "pacientes")).ok).toBe(true);
      await source.query("delete from consultas where id = $1", [id(24)]);
      const gone = await verifyTable(source, target.client as never, "consultas");
      expect(gone).toMatchObject({ ok: false });
      expect(gone.target.count - gone.source.count).toBe(1);
      const [state] = await targetRows(
        "select fase, verificacao->>'ok' as ok from migration.tabelas where tabela = 'consultas'",
      );
      expect(state).toEqual({ fase: "sync", ok: "false" });
    });

    it("does not pass a source transaction that is still open (the horizon)", async () => {
      const open = new pg.Client({
        connectionString: new URL(`/${legacyName}`, postgresAdminUrl()).toString(),
      });
      await open.connect();
      try {
        await open.query("begin");
        await open.query("insert into pacientes (id, nome, fisioterapeuta_id) values ($1, 'Aberta', $2)", [
          id(31),
          FISIO[1],
        ]);
        // Committed after the open one began, so its updated_at is later.
        await source.query("insert into pacientes (id, nome, fisioterapeuta_id) values ($1, 'Depois', $2)", [
          id(32),
          FISIO[1],
        ]);
        const r = await sync("pacientes");
        expect(r.outcome).toBe("caught-up");
        await open.query("commit");
      } finally {
        await open.end();
      }
      await syncAll();
      const rows = await targetRows("select nome from pacientes where id = any($1) order by id", [
        [id(31), id(32)],
      ]);
      expect(rows).toEqual([{ nome: "Aberta" }, { nome: "Depois" }]);
    });
  });
}
