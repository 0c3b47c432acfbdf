/**
 * GET /v1/ops/migration end to end: the worker in workerd against the local Neon endpoint on both
 * database backends. Admins read the migration's state through app.estado_migracao() (migration
 * 0014) on the caller-scoped handle; everyone else gets 403, and the database itself refuses them
 * too. The answer carries ids, counts, timestamps and reasons only, and is never cached.
 */
import { neon } from "@neondatabase/serverless";
import { describe, expect, it } from "vitest";
import { pgError } from "../../db/errors";
import { withAuth } from "../../db/session";
import { createApp } from "../../functions/app";
import { apiSuite, expectNoLeak } from "../harness/api-suite";
import { requestApp } from "../harness/app";
import { testBackends } from "../harness/backends";
import { TEST_SIGNER } from "../harness/db";
import type { Json } from "../harness/http";

const backends = await testBackends();
const PATH = "/v1/ops/migration";

describe.each(backends)("GET /v1/ops/migration on $name", ({ name, skip }) => {
  const suite = apiSuite(name, skip);
  const { api, as, admin } = suite;

  it.skipIf(skip)("a fresh database: 200, empty lists, no-store, one round trip", async () => {
    const res = await api(admin, "GET", PATH);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tabelas: [], cdc: [] });
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.roundTrips).toBe(1);
  });

  it.skipIf(skip)(
    "shows what the owner wrote: per table (quarantine counted per reason) and per slot",
    async () => {
      const wm = crypto.randomUUID();
      const q = Array.from({ length: 5 }, () => crypto.randomUUID());
      // Values that must never come out: a quarantined row's detail, an undocumented key.
      const detalhe = "Key (cpf)=(123.456.789-09) already exists";
      await suite.cloud.system(async (c) => {
        await c.query(
          `INSERT INTO migration.tabelas
             (tabela, fase, watermark_at, watermark_id, linhas_aplicadas, linhas_quarentena, lotes,
              ultima_execucao, lag_segundos, lag_bytes, verificacao, verificado_em)
           VALUES ('pacientes', 'verificada', '2025-03-01T12:00:00.123456Z', $1, 9997, 3, 10,
                   '2025-03-01T12:05:00Z', 1.5, 4096, $2::jsonb, '2025-03-01T12:06:00Z'),
                  ('consultas', 'pendente', NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL)`,
          [
            wm,
            JSON.stringify({
              source: { count: 9997, checksum: "123456789012345" },
              target: { count: 9997, checksum: "123456789012345" },
              quarantined: 3,
              ok: true,
              amostra: "Carla Dias",
            }),
          ],
        );
        await c.query(
          `INSERT INTO migration.quarentena (tabela, id, motivo, detalhe) VALUES
             ('pacientes', $1, 'email_duplicado', $6), ('pacientes', $2, 'email_duplicado', NULL),
             ('pacientes', $3, 'cpf_duplicado', $6), ('consultas', $4, 'consulta_sobreposta', NULL),
             ('exercicios', $5, 'nome_duplicado', NULL)`,
          [...q, detalhe],
        );
        await c.query(
          `INSERT INTO migration.cdc
             (slot, applied_lsn, transacoes, alteracoes, lag_bytes, lag_segundos, ultima_execucao)
           VALUES ('fisioflow_migration', '0/16B3748', 12, 340, 8192, 0.25, '2025-03-01T12:07:00Z'),
                  ('a_reserva', NULL, 0, 0, NULL, NULL, NULL)`,
        );
      });
      try {
        const res = await api(admin, "GET", PATH);
        expect(res.status).toBe(200);
        expect(res.roundTrips).toBe(1);
        expect(res.headers.get("cache-control")).toBe("no-store");
        const [consultas, pacientes] = res.body.tabelas;
        // By table name; a quarantine with no table row (exercicios) is not a table of its own.
        expect(res.body.tabelas.map((t: Json) => t.tabela)).toEqual(["consultas", "pacientes"]);
        expect(consultas).toEqual({
          tabela: "consultas",
          fase: "pendente",
          watermark: null,
          linhas_aplicadas: 0,
          lotes: 0,
          quarentena: 1,
          quarentena_por_motivo: { consulta_sobreposta: 1 },
          lag_segundos: null,
          ultima_execucao: null,
          verificacao: null,
          verificado_em: null,
        });
        expect(pacientes).toMatchObject({
          tabela: "pacientes",
          fase: "verificada",
          watermark: { id: wm },
          linhas_aplicadas: 9997,
          lotes: 10,
          quarentena: 3,
          quarentena_por_motivo: { email_duplicado: 2, cpf_duplicado: 1 },
          lag_segundos: 1.5,
          verificacao: {
            source: { count: 9997, checksum: "123456789012345" },
            target: { count: 9997, checksum: "123456789012345" },
            quarantined: 3,
            ok: true,
          },
        });
        // Exactly the documented keys: nothing undocumented (verificacao.amostra) comes through.
        expect(Object.keys(pacientes).sort()).toEqual(Object.keys(consultas).sort());
        expect(Object.keys(pacientes.verificacao).sort()).toEqual(["ok", "quarantined", "source", "target"]);
        // Timestamps as PostgreSQL writes them (with the session's offset), microseconds kept.
        expect(pacientes.watermark.updated_at).toMatch(/\.123456(Z|[+-]\d\d:\d\d)$/);
        const at = (s: string) => new Date(s).toISOString();
        expect(at(pacientes.watermark.updated_at)).toBe("2025-03-01T12:00:00.123Z");
        expect(at(pacientes.ultima_execucao)).toBe("2025-03-01T12:05:00.000Z");
        expect(at(pacientes.verificado_em)).toBe("2025-03-01T12:06:00.000Z");

        expect(res.body.cdc).toEqual([
          {
            slot: "a_reserva",
            applied_lsn: null,
            transacoes: 0,
            alteracoes: 0,
            lag_bytes: null,
            lag_segundos: null,
            ultima_execucao: null,
          },
          {
            slot: "fisioflow_migration",
            applied_lsn: "0/16B3748",
            transacoes: 12,
            alteracoes: 340,
            lag_bytes: 8192,
            lag_segundos: 0.25,
            ultima_execucao: expect.any(String),
          },
        ]);
        expect(at(res.body.cdc[1].ultima_execucao)).toBe("2025-03-01T12:07:00.000Z");
        // Ids, counts, timestamps and reasons: no quarantined row's id, detail or values.
        expectNoLeak(res.body, [detalhe, "123.456.789-09", "Carla Dias", "amostra", "detalhe", ...q]);
      } finally {
        await suite.cloud.system(async (c) => {
          await c.query("DELETE FROM migration.quarentena");
          await c.query("DELETE FROM migration.tabelas");
          await c.query("DELETE FROM migration.cdc");
        });
      }
    },
  );

  it.skipIf(skip)("a fisioterapeuta and a paciente get 403 in the error model, never cached", async () => {
    for (const who of [as("fisioA"), as("pacA")]) {
      const res = await api(who, "GET", PATH);
      expect(res.status, who.role).toBe(403);
      expect(res.body).toMatchObject({
        error: { code: "forbidden", message: expect.any(String), request_id: expect.any(String) },
      });
      expect(res.body).not.toHaveProperty("tabelas");
      expect(res.headers.get("cache-control"), who.role).toBe("no-store");
      // Refused before the database is asked (which would refuse too: next test).
      expect(res.roundTrips).toBe(0);
      expectNoLeak(res.body, ["estado_migracao", "migration."]);
    }
  });

  it.skipIf(skip)("no token answers 401", async () => {
    const res = await api(null, "GET", PATH);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: "unauthorized" } });
    expect(res.roundTrips).toBe(0);
  });

  it.skipIf(skip)(
    "the database is the guarantee: the app role as a non-admin gets 42501 from the function and cannot read schema migration",
    async () => {
      const app = neon(suite.cloud.vars.DATABASE_URL!);
      for (const auth of [as("fisioA"), as("pacA")]) {
        const refused = await withAuth(app, { auth, signer: TEST_SIGNER }, (sql) => [
          sql.query("SELECT app.estado_migracao()"),
        ]).catch((err: unknown) => err);
        expect(pgError(refused)?.code, auth.role).toBe("42501");
      }
      const direct = await withAuth(app, { auth: admin, signer: TEST_SIGNER }, (sql) => [
        sql.query("SELECT count(*) FROM migration.tabelas"),
      ]).catch((err: unknown) => err);
      expect(pgError(direct)?.code).toBe("42501");
      const [[ok]] = (await withAuth(app, { auth: admin, signer: TEST_SIGNER }, (sql) => [
        sql.query("SELECT app.estado_migracao() AS estado"),
      ])) as [{ estado: Json }[]];
      expect(ok!.estado).toEqual({ tabelas: [], cdc: [] });
    },
  );
});

describe("GET /v1/ops/migration in the OpenAPI document", () => {
  it("is documented: admin-only summary, the EstadoMigracao schema, no-store, 403", async () => {
    const res = await requestApp(createApp(), "/openapi.json");
    const doc = (await res.json()) as Json;
    const op = doc.paths["/v1/ops/migration"]?.get;
    expect(op).toBeDefined();
    expect(op.security).toEqual([{ bearerAuth: [] }]);
    expect(op.tags).toEqual(["ops"]);
    expect(op.summary).toContain("admin");
    const ok = op.responses["200"];
    expect(ok.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/EstadoMigracao" });
    expect(ok.headers["Cache-Control"]).toBeDefined();
    expect(op.responses["403"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/Error",
    });
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas.EstadoMigracao.properties).sort()).toEqual(["cdc", "tabelas"]);
    expect(Object.keys(schemas.TabelaMigracao.properties).sort()).toEqual(
      [
        "fase",
        "linhas_aplicadas",
        "lag_segundos",
        "lotes",
        "quarentena",
        "quarentena_por_motivo",
        "tabela",
        "ultima_execucao",
        "verificacao",
        "verificado_em",
        "watermark",
      ].sort(),
    );
    expect(Object.keys(schemas.CdcMigracao.properties).sort()).toEqual(
      [
        "alteracoes",
        "applied_lsn",
        "lag_bytes",
        "lag_segundos",
        "slot",
        "transacoes",
        "ultima_execucao",
      ].sort(),
    );
  });
});
