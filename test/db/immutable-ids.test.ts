/**
 * Review fix (0009): no UPDATE may change the id of a clinical row. audit.registrar_update pairs
 * old and new rows by id, so such an update used to write no audit row, and it left
 * prontuarios.consulta_id pointing at nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePartitions } from "../../db/partitions";
import type { Auth } from "../../db/session";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, type TestDb } from "../harness/db";

const backends = await testBackends();

describe.each(backends)("immutable ids on $name", ({ name, skip }) => {
  let db: TestDb;
  let fx: Fixture;
  let fisioA: Auth;
  let admin: Auth;
  const consulta = crypto.randomUUID();
  const prontuario = crypto.randomUUID();
  const exercicio = crypto.randomUUID();
  const prescricao = crypto.randomUUID();

  beforeAll(async () => {
    if (skip) return;
    db = await startTestDb(name, "ids");
    fx = await createFixture(db);
    fisioA = { userId: fx.fisioA, role: "fisioterapeuta" };
    admin = { userId: crypto.randomUUID(), role: "admin" };
    // A partition created after 0009: the row trigger must reach it too.
    await db.withOwner((c) => ensurePartitions(c, { now: new Date("2031-02-15T00:00:00Z"), monthsAhead: 0 }));
    await db.system(async (s) => {
      await s.query(
        `INSERT INTO consultas (id, paciente_id, fisioterapeuta_id, data_consulta)
         VALUES ($1, $2, $3, '2031-02-10T10:00Z')`,
        [consulta, fx.pacA, fx.fisioA],
      );
      await s.query(
        `INSERT INTO prontuarios (id, paciente_id, fisioterapeuta_id, consulta_id, conteudo)
         VALUES ($1, $2, $3, $4, 'evolução')`,
        [prontuario, fx.pacA, fx.fisioA, consulta],
      );
      await s.query(`INSERT INTO exercicios (id, nome, categoria) VALUES ($1, $2, 'mobilidade')`, [
        exercicio,
        `Ponte ${exercicio}`,
      ]);
      await s.query(
        `INSERT INTO prescricoes (id, paciente_id, exercicio_id, fisioterapeuta_id, series, repeticoes, frequencia)
         VALUES ($1, $2, $3, $4, 3, 12, 'diária')`,
        [prescricao, fx.pacA, exercicio, fx.fisioA],
      );
    });
  });
  afterAll(async () => {
    await db?.close();
  });

  const auditCount = async (tabela: string, id: string) => {
    const [rows] = (await db.as(admin, (sql) => [
      sql`SELECT count(*)::int AS n FROM audit.log WHERE tabela = ${tabela} AND row_id = ${id} AND operacao = 'UPDATE'`,
    ])) as { n: number }[][];
    return rows![0]!.n;
  };

  it.skipIf(skip)("the app role cannot move a consulta to a new id (the review's reproduction)", async () => {
    const part = await db.system((c) =>
      c.query("SELECT tableoid::regclass::text AS part FROM consultas WHERE id = $1", [consulta]),
    );
    expect(part.rows[0].part).toBe("consultas_y2031m02");
    const err = await db
      .as(fisioA, (sql) => [
        sql`UPDATE consultas SET id = gen_random_uuid(), status = 'falta' WHERE id = ${consulta}`,
      ])
      .catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe("23514");
    expect(String(err.message)).toMatch(/consultas\.id cannot change/);

    // Nothing changed: the consulta keeps its id and status, the prontuario still points at it.
    const [rows] = (await db.as(fisioA, (sql) => [
      sql`SELECT c.status, p.id AS prontuario FROM consultas c
              JOIN prontuarios p ON p.consulta_id = c.id WHERE c.id = ${consulta}`,
    ])) as { status: string; prontuario: string }[][];
    expect(rows).toEqual([{ status: "agendada", prontuario }]);
    expect(await auditCount("consultas", consulta)).toBe(0);

    // An update that keeps the id still works and is audited.
    await db.as(fisioA, (sql) => [sql`UPDATE consultas SET status = 'falta' WHERE id = ${consulta}`]);
    expect(await auditCount("consultas", consulta)).toBe(1);
  });

  it.skipIf(skip)("the owner cannot change a consulta's id either, even moving it to DEFAULT", async () => {
    const err = await db
      .system((c) =>
        c.query(
          `UPDATE consultas SET id = gen_random_uuid(), data_consulta = '2035-01-10T10:00Z' WHERE id = $1`,
          [consulta],
        ),
      )
      .catch((e) => e);
    expect(err.code).toBe("23514");
    expect(String(err.message)).toMatch(/consultas\.id cannot change/);
  });

  it.skipIf(skip)("prescricoes, exercicios and fisioterapeutas refuse a new id", async () => {
    const cases: [string, Auth, string][] = [
      ["prescricoes", fisioA, prescricao],
      ["exercicios", admin, exercicio],
      ["fisioterapeutas", admin, fx.fisioB],
    ];
    for (const [tabela, auth, id] of cases) {
      const err = await db
        .as(auth, (sql) => [
          sql`UPDATE ${sql.unsafe(`public.${tabela}`)} SET id = gen_random_uuid() WHERE id = ${id}`,
        ])
        .catch((e) => e);
      expect(err?.code, tabela).toBe("23514");
      expect(String(err.message)).toMatch(new RegExp(`${tabela}\\.id cannot change`));
      const [rows] = (await db.as(admin, (sql) => [
        sql`SELECT count(*)::int AS n FROM ${sql.unsafe(`public.${tabela}`)} WHERE id = ${id}`,
      ])) as { n: number }[][];
      expect(rows![0]!.n, tabela).toBe(1);
    }
    // Assigning the same id is not a change.
    await db.as(fisioA, (sql) => [sql`UPDATE prescricoes SET id = id, series = 4 WHERE id = ${prescricao}`]);
  });

  it.skipIf(skip)(
    "prontuarios and pacientes: the id cannot change even with the append-only trigger off",
    async () => {
      const err = await db
        .system(async (c) => {
          // What an owner-run LGPD procedure would do (no UPDATE policy exists for anyone either).
          await c.query("ALTER TABLE public.prontuarios DISABLE TRIGGER prontuarios_append_only");
          await c.query("ALTER TABLE public.prontuarios NO FORCE ROW LEVEL SECURITY");
          await c.query("UPDATE prontuarios SET id = gen_random_uuid() WHERE id = $1", [prontuario]);
        })
        .catch((e) => e);
      expect(err.code).toBe("23514");
      expect(String(err.message)).toMatch(/prontuarios\.id cannot change/);
      const pac = await db
        .as(fisioA, (sql) => [sql`UPDATE pacientes SET id = gen_random_uuid() WHERE id = ${fx.pacA}`])
        .catch((e) => e);
      expect(pac.code).toBe("23514");
    },
  );

  it.skipIf(skip)("every audited table has an immutable-id trigger", async () => {
    await db.withOwner(async (c) => {
      const { rows } = await c.query(
        `SELECT c.relname AS t,
                bool_or(t.tgname = c.relname || '_id_imutavel') AS guarded
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          WHERE c.relnamespace = 'public'::regnamespace AND NOT c.relispartition
          GROUP BY c.relname
         HAVING bool_or(t.tgname LIKE '%audit%' OR t.tgname LIKE '%touch')
          ORDER BY 1`,
      );
      expect(rows).toEqual(
        [
          "anexos",
          "consultas",
          "exercicios",
          "fisioterapeutas",
          "pacientes",
          "prescricoes",
          "prontuarios",
        ].map((t) => ({ t, guarded: true })),
      );
    });
  });
});
