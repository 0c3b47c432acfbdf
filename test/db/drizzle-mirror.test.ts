/**
 * The drizzle schema is the typed mirror of the SQL migrations: every declared column is selected
 * through drizzle neon-http as the app role, with the identity statement first in db.batch.
 */
import { neon } from "@neondatabase/serverless";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSlotTaken } from "../../db/errors";
import {
  anexos,
  auditLog,
  consultas,
  consultasDiarias,
  exercicios,
  fisioterapeutas,
  pacientes,
  prescricoes,
  prontuarios,
  schema,
} from "../../db/schema";
import { type Auth, authSql, withAuth } from "../../db/session";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, TEST_SIGNER, type TestDb } from "../harness/db";

const backends = await testBackends();
const ADMIN: Auth = { userId: "00000000-0000-4000-8000-000000000001", role: "admin" };

describe.each(backends)("drizzle mirror on $name", ({ name, skip }) => {
  let db: TestDb;
  let fx: Fixture;
  beforeAll(async () => {
    if (skip) return;
    db = await startTestDb(name, "drizzle");
    fx = await createFixture(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  it.skipIf(skip)("selects every declared column of every table, with the mapped types", async () => {
    // One row per table, written as the owner's system identity for fisioterapeuta B / paciente B
    // (the next test counts fisioterapeuta A's consultas), then the analytics refresh over its day.
    const ids = {
      consulta: crypto.randomUUID(),
      prontuario: crypto.randomUUID(),
      anexo: crypto.randomUUID(),
      exercicio: crypto.randomUUID(),
      prescricao: crypto.randomUUID(),
    };
    const start = new Date("2031-05-06T14:00:00Z");
    const refreshed = await db.system(async (c) => {
      await c.query(
        `INSERT INTO consultas (id, paciente_id, fisioterapeuta_id, data_consulta, duracao_min, status, observacoes)
         VALUES ($1, $2, $3, $4, 45, 'realizada', 'Primeira avaliação')`,
        [ids.consulta, fx.pacB, fx.fisioB, start.toISOString()],
      );
      await c.query(
        `INSERT INTO prontuarios (id, paciente_id, fisioterapeuta_id, consulta_id, conteudo)
         VALUES ($1, $2, $3, $4, 'Dor lombar, melhora com alongamento')`,
        [ids.prontuario, fx.pacB, fx.fisioB, ids.consulta],
      );
      await c.query(
        `INSERT INTO anexos (id, prontuario_id, paciente_id, fisioterapeuta_id, nome_arquivo, content_type,
                             tamanho, sha256, r2_key)
         VALUES ($1::uuid, $2::uuid, $3, $4, 'laudo.pdf', 'application/pdf', 104857600, repeat('a1', 32),
                 'anexos/' || $2::uuid || '/' || $1::uuid)`,
        [ids.anexo, ids.prontuario, fx.pacB, fx.fisioB],
      );
      await c.query(
        `INSERT INTO exercicios (id, nome, descricao, categoria)
         VALUES ($1, 'Prancha frontal', 'Apoio nos antebraços', 'fortalecimento')`,
        [ids.exercicio],
      );
      await c.query(
        `INSERT INTO prescricoes (id, paciente_id, exercicio_id, fisioterapeuta_id, series, repeticoes,
                                  frequencia, observacoes, inicio, fim, ativa)
         VALUES ($1, $2, $3, $4, 3, 12, '3x/semana', 'Sem carga', '2031-05-06', '2031-06-06', false)`,
        [ids.prescricao, fx.pacB, ids.exercicio, fx.fisioB],
      );
      const r = await c.query("SELECT analytics.refresh_consultas_diarias('2031-05-06', '2031-05-07') AS n");
      return r.rows[0].n;
    });
    expect(refreshed).toBe(1);

    const d = drizzle({ client: neon(db.appUrl), schema, casing: "snake_case" });
    const [, f, p, c, pr, e, rx, a, cd, ax] = await d.batch([
      d.execute(await authSql({ auth: ADMIN, signer: TEST_SIGNER })),
      d.select().from(fisioterapeutas),
      d.select().from(pacientes).where(eq(pacientes.id, fx.pacA)),
      d.select().from(consultas).where(eq(consultas.id, ids.consulta)),
      d.select().from(prontuarios).where(eq(prontuarios.id, ids.prontuario)),
      d.select().from(exercicios).where(eq(exercicios.id, ids.exercicio)),
      d.select().from(prescricoes).where(eq(prescricoes.id, ids.prescricao)),
      d
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.tabela, "consultas"), eq(auditLog.row_id, ids.consulta))),
      d.select().from(consultasDiarias).where(eq(consultasDiarias.fisioterapeuta_id, fx.fisioB)),
      d.select().from(anexos).where(eq(anexos.id, ids.anexo)),
    ]);
    expect(f).toHaveLength(2);
    expect(p[0]).toMatchObject({ id: fx.pacA, status: "ativo", fisioterapeuta_id: fx.fisioA });
    expect(p[0]!.created_at).toBeInstanceOf(Date);
    // toEqual: exactly the declared columns, each under its mapped name and JS type
    // (timestamptz → Date, date → "YYYY-MM-DD", integer → number, boolean → boolean).
    const stamps = { created_at: expect.any(Date), updated_at: expect.any(Date) };
    expect(c).toEqual([
      {
        id: ids.consulta,
        paciente_id: fx.pacB,
        fisioterapeuta_id: fx.fisioB,
        data_consulta: start,
        duracao_min: 45,
        status: "realizada",
        observacoes: "Primeira avaliação",
        ...stamps,
      },
    ]);
    expect(c[0]!.data_consulta).toBeInstanceOf(Date);
    expect(pr).toEqual([
      {
        id: ids.prontuario,
        paciente_id: fx.pacB,
        fisioterapeuta_id: fx.fisioB,
        consulta_id: ids.consulta,
        versao: 1,
        corrige_id: null,
        conteudo: "Dor lombar, melhora com alongamento",
        ...stamps,
      },
    ]);
    // bigint in "number" mode: a JS number, not the driver's string.
    expect(ax).toEqual([
      {
        id: ids.anexo,
        prontuario_id: ids.prontuario,
        paciente_id: fx.pacB,
        fisioterapeuta_id: fx.fisioB,
        nome_arquivo: "laudo.pdf",
        content_type: "application/pdf",
        tamanho: 104_857_600,
        sha256: "a1".repeat(32),
        r2_key: `anexos/${ids.prontuario}/${ids.anexo}`,
        created_at: expect.any(Date),
      },
    ]);
    expect(e).toEqual([
      {
        id: ids.exercicio,
        nome: "Prancha frontal",
        descricao: "Apoio nos antebraços",
        categoria: "fortalecimento",
        ...stamps,
      },
    ]);
    expect(rx).toEqual([
      {
        id: ids.prescricao,
        paciente_id: fx.pacB,
        exercicio_id: ids.exercicio,
        fisioterapeuta_id: fx.fisioB,
        series: 3,
        repeticoes: 12,
        frequencia: "3x/semana",
        observacoes: "Sem carga",
        inicio: "2031-05-06",
        fim: "2031-06-06",
        ativa: false,
        ...stamps,
      },
    ]);
    expect(cd).toEqual([
      {
        dia: "2031-05-06",
        fisioterapeuta_id: fx.fisioB,
        total: 1,
        realizadas: 1,
        canceladas: 0,
        faltas: 0,
        minutos_agendados: 45,
        atualizado_em: expect.any(Date),
      },
    ]);
    // The consulta's INSERT, written by the audit trigger under the owner's system identity.
    expect(a).toEqual([
      {
        id: expect.any(Number),
        em: expect.any(Date),
        actor_id: null,
        actor_role: "system",
        tabela: "consultas",
        row_id: ids.consulta,
        operacao: "INSERT",
        colunas: expect.arrayContaining(["data_consulta", "duracao_min", "observacoes"]),
      },
    ]);
  });

  it.skipIf(skip)(
    "writes through drizzle as a fisioterapeuta; a double booking maps to slot_taken",
    async () => {
      const d = drizzle({ client: neon(db.appUrl), schema, casing: "snake_case" });
      const auth: Auth = { userId: fx.fisioA, role: "fisioterapeuta" };
      const start = new Date("2031-08-04T13:00:00Z");
      const [, inserted] = await d.batch([
        d.execute(await authSql({ auth, signer: TEST_SIGNER })),
        d
          .insert(consultas)
          .values({
            paciente_id: fx.pacA,
            fisioterapeuta_id: fx.fisioA,
            data_consulta: start,
            duracao_min: 45,
          })
          .returning(),
      ]);
      expect(inserted[0]).toMatchObject({ status: "agendada", duracao_min: 45 });
      const err = await d
        .batch([
          d.execute(await authSql({ auth, signer: TEST_SIGNER })),
          d.insert(consultas).values({
            paciente_id: fx.pacA,
            fisioterapeuta_id: fx.fisioA,
            data_consulta: new Date("2031-08-04T13:30:00Z"),
          }),
        ])
        .catch((e) => e);
      expect(isSlotTaken(err)).toBe(true);
      // The raw-neon helper gives the same through sql.transaction.
      const sql = neon(db.appUrl);
      const [rows] = await withAuth(sql, { auth, signer: TEST_SIGNER }, (q) => [
        q`SELECT count(*)::int AS n FROM consultas`,
      ]);
      expect(rows).toEqual([{ n: 1 }]);
    },
  );
});
