/**
 * The bulk load (db/migration/bulk.ts) from a generated legacy database into the local endpoint,
 * on both endpoint backends: COPY into staging, applied in chunks with the sync's rules, handed
 * over to the sync at a watermark; resumable after a failure mid-table; writes made during and
 * after the load reach the target through the sync; everything verified equal at the end.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateLegacy } from "../../db/legacy/generate";
import { type BulkProgress, bulkLoad } from "../../db/migration/bulk";
import { MIGRATED_TABLES } from "../../db/migration/tables";
import { verifyTable } from "../../db/migration/verify";
import { openClient } from "../../db/owner-client";
import { SYSTEM_SQL } from "../../db/session";
import { probePostgres, testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import { createLegacyDatabase, type LegacyDatabase, syncAllTables } from "../harness/legacy";

const backends = await testBackends();
const noPostgres = await probePostgres();
if (noPostgres && process.env.CI === "true")
  throw new Error(`CI needs PostgreSQL for the legacy source: ${noPostgres}`);
const PACIENTES = 200;

for (const { name, skip } of backends) {
  describe.skipIf(skip || noPostgres)(`bulk load into the ${name} endpoint`, () => {
    let t: TestEndpoint;
    let legacyUrl: string;
    const legacyName = `legacy_bulk_${name}_${process.pid}`;
    let source: pg.Client;
    let legacy: LegacyDatabase;
    let report: Awaited<ReturnType<typeof generateLegacy>>;

    const openSource = async () => {
      const c = new pg.Client({ connectionString: legacyUrl });
      await c.connect();
      return { client: c as never, close: () => c.end() };
    };
    const openTarget = () => openClient(t.ownerUrl) as never;

    beforeAll(async () => {
      legacy = await createLegacyDatabase(legacyName);
      source = legacy.client;
      legacyUrl = legacy.url;
      report = await generateLegacy(source, { pacientes: PACIENTES, seed: 7 });
      t = await startTestEndpoint(name, { prefix: "mig_bulk", migrate: true });
      await new Promise((r) => setTimeout(r, 1100)); // past the horizon's margin
    });
    afterAll(async () => {
      await legacy?.close();
      await t?.close();
    });

    async function targetQuery(sql: string, params: unknown[] = []) {
      const c = await openClient(t.ownerUrl);
      try {
        await c.client.query("BEGIN");
        await c.client.query(SYSTEM_SQL);
        const r = await c.client.query(sql, params);
        await c.client.query("COMMIT");
        return r.rows;
      } finally {
        await c.close();
      }
    }

    it("resumes a table after a failure mid-load without applying anything twice", async () => {
      // The first run dies while applying pacientes (its third chunk): a connection that fails.
      let chunks = 0;
      const failing = async () => {
        const c = await openClient(t.ownerUrl);
        const query = c.client.query.bind(c.client);
        (c.client as { query: unknown }).query = (text: unknown, ...rest: unknown[]) => {
          if (
            typeof text === "string" &&
            text.includes("FROM migration.carga_pacientes c WHERE c.ord") &&
            ++chunks === 3
          )
            return Promise.reject(Object.assign(new Error("connection lost"), { code: "08006" }));
          return (query as (...a: unknown[]) => unknown)(text, ...rest);
        };
        return c as never;
      };
      await expect(
        bulkLoad({
          openSource,
          openTarget: failing,
          chunk: 50,
          tables: ["fisioterapeutas", "exercicios", "pacientes"],
        }),
      ).rejects.toThrow(/connection lost/);
      const [mid] = await targetQuery(
        "select fase, linhas_aplicadas::int as n, (select count(*)::int from pacientes) as rows from migration.tabelas where tabela = 'pacientes'",
      );
      expect(mid).toMatchObject({ fase: "bulk" });
      expect(mid.rows).toBeGreaterThanOrEqual(90); // two chunks of 50, minus quarantine
      expect(mid.rows).toBeLessThan(150);
    });

    it("loads every table, counts checked, quarantine as injected, handed over to the sync", async () => {
      const seen = new Set<string>();
      const reports = await bulkLoad({
        openSource,
        openTarget,
        chunk: 97,
        onProgress: (p: BulkProgress) => seen.add(`${p.table}:${p.phase}`),
      });
      expect(reports.map((r) => r.table)).toEqual([...MIGRATED_TABLES]);
      // fisioterapeutas and exercicios were finished by the first run; pacientes resumed.
      expect(reports.filter((r) => r.status === "already-synced").map((r) => r.table)).toEqual([
        "fisioterapeutas",
        "exercicios",
      ]);
      expect(seen.has("consultas:copying") && seen.has("consultas:done")).toBe(true);
      const states = await targetQuery("select tabela, fase from migration.tabelas order by tabela");
      expect(states.every((s) => s.fase === "sync")).toBe(true);
      const [counts] = await targetQuery(
        "select (select count(*) from pacientes)::int as pacientes, (select count(distinct id) from pacientes)::int as distinct_pacientes, (select sum(linhas_aplicadas)::int from migration.tabelas where tabela = 'pacientes') as applied",
      );
      expect(counts.pacientes).toBe(counts.distinct_pacientes);
      expect(counts.applied).toBe(counts.pacientes); // nothing applied twice across the two runs
      const q = await targetQuery(
        "select id::text, motivo from migration.quarentena where tabela = 'pacientes' order by id",
      );
      const expected = [...report.anomalies.cpfDuplicado, ...report.anomalies.dataInvalida].sort();
      expect(q.map((r) => r.id).sort()).toEqual(expected);
      const target = await openClient(t.ownerUrl);
      try {
        for (const table of MIGRATED_TABLES) {
          const v = await verifyTable(source as never, target.client as never, table);
          expect(v.ok, `${table}: ${JSON.stringify(v)}`).toBe(true);
        }
      } finally {
        await target.close();
      }
    });

    it("leaves what is written after the load to the sync, which finds it from the watermark", async () => {
      const [{ id }] = (await source.query("select id from pacientes order by id limit 1")).rows;
      await source.query("update pacientes set nome = 'Depois da Carga' where id = $1", [id]);
      const target = await openClient(t.ownerUrl);
      try {
        await syncAllTables(source as never, target.client as never);
      } finally {
        await target.close();
      }
      const [row] = await targetQuery("select nome from pacientes where id = $1", [id]);
      expect(row).toEqual({ nome: "Depois da Carga" });
    });
  });
}
