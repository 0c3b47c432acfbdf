/**
 * The RLS matrix, as the app role over HTTP (neon(), identity first in each transaction batch):
 * admin / own fisioterapeuta / other fisioterapeuta / own paciente / other paciente ×
 * fisioterapeutas / pacientes / consultas / prontuarios / anexos / exercicios / prescricoes / audit ×
 * select / insert / update / delete, always against rows that belong to paciente A (of
 * fisioterapeuta A): fisioterapeuta A's own row, and for the shared exercicios catalog a fresh entry.
 * A denial is also checked for its cause: RLS (the grant exists) or the missing grant itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPermissionDenied, isRlsViolation, pgError } from "../../db/errors";
import type { Auth } from "../../db/session";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, type TestDb } from "../harness/db";

const backends = await testBackends();

type Outcome = "ok" | "none" | "denied";
type Actor = "admin" | "fisioA" | "fisioB" | "pacA" | "pacB";
type Op = "select" | "insert" | "update" | "delete";
type Table =
  | "fisioterapeutas"
  | "pacientes"
  | "consultas"
  | "prontuarios"
  | "anexos"
  | "exercicios"
  | "prescricoes"
  | "audit";
type Sql = TestDb["app"];

const ACTORS: Actor[] = ["admin", "fisioA", "fisioB", "pacA", "pacB"];
const OPS: Op[] = ["select", "insert", "update", "delete"];

// ok = the row is visible / written; none = silently filtered (0 rows); denied = SQLSTATE 42501.
const EXPECTED: Record<Table, Record<Op, Record<Actor, Outcome>>> = {
  // Target: fisioterapeuta A's row (delete: a fresh fisioterapeuta, A's row is referenced).
  // Only admins manage fisioterapeutas; a fisioterapeuta reads (not edits) their own row, a
  // paciente reads their fisioterapeuta's.
  fisioterapeutas: {
    select: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "ok", pacB: "none" },
    insert: { admin: "ok", fisioA: "denied", fisioB: "denied", pacA: "denied", pacB: "denied" },
    update: { admin: "ok", fisioA: "none", fisioB: "none", pacA: "none", pacB: "none" },
    delete: { admin: "ok", fisioA: "none", fisioB: "none", pacA: "none", pacB: "none" },
  },
  pacientes: {
    select: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "ok", pacB: "none" },
    insert: { admin: "ok", fisioA: "ok", fisioB: "denied", pacA: "denied", pacB: "denied" },
    update: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "none", pacB: "none" },
    delete: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "none", pacB: "none" },
  },
  consultas: {
    select: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "ok", pacB: "none" },
    insert: { admin: "ok", fisioA: "ok", fisioB: "denied", pacA: "denied", pacB: "denied" },
    update: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "none", pacB: "none" },
    delete: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "none", pacB: "none" },
  },
  prontuarios: {
    select: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "ok", pacB: "none" },
    insert: { admin: "denied", fisioA: "ok", fisioB: "denied", pacA: "denied", pacB: "denied" },
    update: { admin: "denied", fisioA: "denied", fisioB: "denied", pacA: "denied", pacB: "denied" },
    delete: { admin: "denied", fisioA: "denied", fisioB: "denied", pacA: "denied", pacB: "denied" },
  },
  // Attachments follow their prontuario: append-only (no UPDATE/DELETE grant), the paciente's
  // fisioterapeuta attaches in their own name.
  anexos: {
    select: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "ok", pacB: "none" },
    insert: { admin: "denied", fisioA: "ok", fisioB: "denied", pacA: "denied", pacB: "denied" },
    update: { admin: "denied", fisioA: "denied", fisioB: "denied", pacA: "denied", pacB: "denied" },
    delete: { admin: "denied", fisioA: "denied", fisioB: "denied", pacA: "denied", pacB: "denied" },
  },
  // The shared catalog: every signed-in role reads it, fisioterapeutas add to it, admins curate it.
  exercicios: {
    select: { admin: "ok", fisioA: "ok", fisioB: "ok", pacA: "ok", pacB: "ok" },
    insert: { admin: "ok", fisioA: "ok", fisioB: "ok", pacA: "denied", pacB: "denied" },
    update: { admin: "ok", fisioA: "none", fisioB: "none", pacA: "none", pacB: "none" },
    delete: { admin: "ok", fisioA: "none", fisioB: "none", pacA: "none", pacB: "none" },
  },
  prescricoes: {
    select: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "ok", pacB: "none" },
    insert: { admin: "ok", fisioA: "ok", fisioB: "denied", pacA: "denied", pacB: "denied" },
    update: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "none", pacB: "none" },
    delete: { admin: "ok", fisioA: "ok", fisioB: "none", pacA: "none", pacB: "none" },
  },
  audit: {
    select: { admin: "ok", fisioA: "none", fisioB: "none", pacA: "none", pacB: "none" },
    insert: { admin: "denied", fisioA: "denied", fisioB: "denied", pacA: "denied", pacB: "denied" },
    update: { admin: "denied", fisioA: "denied", fisioB: "denied", pacA: "denied", pacB: "denied" },
    delete: { admin: "denied", fisioA: "denied", fisioB: "denied", pacA: "denied", pacB: "denied" },
  },
};

// Fisioterapeuta A writes for their OWN paciente A, once in their own name (the control) and once
// in fisioterapeuta B's name (fisioterapeuta_id = B). app.is_fisio_do_paciente(paciente_id) passes
// both times, so only the `AND fisioterapeuta_id = app.user_id()` half of the WITH CHECK can refuse
// the second: without it, A could book, chart and prescribe in B's name. (Prontuarios are
// append-only: no update.)
type NameCase =
  | "consultas.insert"
  | "prontuarios.insert"
  | "anexos.insert"
  | "prescricoes.insert"
  | "consultas.update"
  | "prescricoes.update";
const IN_NAME_OF: Record<NameCase, { own: Outcome; fisioB: Outcome }> = {
  "consultas.insert": { own: "ok", fisioB: "denied" },
  "prontuarios.insert": { own: "ok", fisioB: "denied" },
  "anexos.insert": { own: "ok", fisioB: "denied" },
  "prescricoes.insert": { own: "ok", fisioB: "denied" },
  "consultas.update": { own: "ok", fisioB: "denied" },
  "prescricoes.update": { own: "ok", fisioB: "denied" },
};

// The app role's grants (0006). A denied cell on a granted operation must be an RLS WITH CHECK
// violation; on an operation without a grant, "permission denied for table" (the grant check
// comes first, before any policy or trigger).
const GRANTED: Record<Table, Op[]> = {
  fisioterapeutas: OPS,
  pacientes: OPS,
  consultas: OPS,
  prontuarios: ["select", "insert"],
  anexos: ["select", "insert"],
  exercicios: OPS,
  prescricoes: OPS,
  audit: ["select"],
};
const RELATION: Record<Table, string> = {
  fisioterapeutas: "fisioterapeutas",
  pacientes: "pacientes",
  consultas: "consultas",
  prontuarios: "prontuarios",
  anexos: "anexos",
  exercicios: "exercicios",
  prescricoes: "prescricoes",
  audit: "log",
};
type Denial = "rls" | "grant" | `other: ${string}`;
const denial = (err: unknown, table: Table): Denial => {
  const message = String((err as Error).message);
  const rel = RELATION[table];
  if (isRlsViolation(err) && message.includes(`row-level security policy for table "${rel}"`)) return "rls";
  if (isPermissionDenied(err) && message.includes(`permission denied for table ${rel}`)) return "grant";
  return `other: ${pgError(err)?.code} ${message}`;
};

describe.each(backends)("RLS matrix on $name", ({ name, skip }) => {
  let db: TestDb;
  let fx: Fixture;
  let exercicio: string;
  let slot = 0;
  const auth = (a: Actor): Auth =>
    ({
      admin: { userId: "00000000-0000-4000-8000-000000000001", role: "admin" },
      fisioA: { userId: fx.fisioA, role: "fisioterapeuta" },
      fisioB: { userId: fx.fisioB, role: "fisioterapeuta" },
      pacA: { userId: fx.pacA, role: "paciente" },
      pacB: { userId: fx.pacB, role: "paciente" },
    })[a] as Auth;
  const nextSlot = () => new Date(Date.UTC(2032, 0, 1, 10) + slot++ * 7_200_000).toISOString();

  // A fresh row of paciente A per cell (via the owner's system identity), so writes never interact.
  const sys = async (text: string, params: unknown[]) =>
    (await db.system((c) => c.query(text, params))).rows[0]?.id as string;
  const target: Record<Table, (op: Op) => Promise<string>> = {
    fisioterapeutas: async (op) =>
      op === "delete"
        ? sys(
            "INSERT INTO fisioterapeutas (nome, email, crefito) VALUES ('Alvo', $1, 'CREFITO-3/9-F') RETURNING id",
            [`alvo.${crypto.randomUUID()}@x.br`],
          )
        : fx.fisioA,
    pacientes: () =>
      sys("INSERT INTO pacientes (nome, fisioterapeuta_id) VALUES ('Alvo', $1) RETURNING id", [fx.fisioA]),
    consultas: () =>
      sys(
        "INSERT INTO consultas (paciente_id, fisioterapeuta_id, data_consulta) VALUES ($1, $2, $3) RETURNING id",
        [fx.pacA, fx.fisioA, nextSlot()],
      ),
    prontuarios: () =>
      sys(
        "INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, conteudo) VALUES ($1, $2, 'Evolução') RETURNING id",
        [fx.pacA, fx.fisioA],
      ),
    // insert: a fresh prontuario of paciente A to attach to; else an attachment of one.
    anexos: async (op) => {
      const prontuario = await target.prontuarios(op);
      if (op === "insert") return prontuario;
      const id = crypto.randomUUID();
      return sys(
        `INSERT INTO anexos (id, prontuario_id, paciente_id, fisioterapeuta_id, nome_arquivo, content_type,
                             tamanho, sha256, r2_key)
         VALUES ($1, $2, $3, $4, 'exame.pdf', 'application/pdf', 10, repeat('ab', 32), 'anexos/' || $2::uuid || '/' || $1::uuid)
         RETURNING id`,
        [id, prontuario, fx.pacA, fx.fisioA],
      );
    },
    exercicios: () =>
      sys("INSERT INTO exercicios (nome, categoria) VALUES ($1, 'mobilidade') RETURNING id", [
        `Alvo ${crypto.randomUUID()}`,
      ]),
    prescricoes: () =>
      sys(
        `INSERT INTO prescricoes (paciente_id, exercicio_id, fisioterapeuta_id, series, repeticoes, frequencia)
         VALUES ($1, $2, $3, 3, 10, '3x/semana') RETURNING id`,
        [fx.pacA, exercicio, fx.fisioA],
      ),
    audit: async () => fx.pacA,
  };

  /** An attachment of prontuario `prontuario` (paciente A's) in `fisio`'s name. */
  const insertAnexo = (sql: Sql, prontuario: string, fisio: string) => {
    const id = crypto.randomUUID();
    return sql`INSERT INTO anexos (id, prontuario_id, paciente_id, fisioterapeuta_id, nome_arquivo, content_type,
                                   tamanho, sha256, r2_key)
               VALUES (${id}, ${prontuario}, ${fx.pacA}, ${fisio}, 'laudo.pdf', 'application/pdf', 20,
                       ${"cd".repeat(32)}, ${`anexos/${prontuario}/${id}`})
               RETURNING id, fisioterapeuta_id`;
  };

  const statement = (t: Table, op: Op, sql: Sql, id: string, actor: Actor) => {
    // Inserts claim what the actor plausibly would: a row for paciente A by fisioterapeuta A,
    // except a fisioterapeuta always writes in their own name.
    const fisio = actor === "fisioB" ? fx.fisioB : fx.fisioA;
    switch (`${t}.${op}`) {
      case "fisioterapeutas.insert":
        return sql`INSERT INTO fisioterapeutas (nome, email, crefito)
                   VALUES ('Nova', ${`nova.${crypto.randomUUID()}@x.br`}, 'CREFITO-3/8-F') RETURNING id`;
      case "fisioterapeutas.update":
        // Fisioterapeuta A's row keeps its values: the update only touches updated_at (trigger).
        return sql`UPDATE fisioterapeutas SET crefito = crefito WHERE id = ${id} RETURNING id`;
      case "pacientes.select":
        return sql`SELECT id FROM pacientes WHERE id = ${fx.pacA}`;
      case "pacientes.insert":
        return sql`INSERT INTO pacientes (nome, fisioterapeuta_id) VALUES ('Novo', ${fx.fisioA}) RETURNING id`;
      case "pacientes.update":
        return sql`UPDATE pacientes SET telefone = '(11) 91111-1111' WHERE id = ${id} RETURNING id`;
      case "pacientes.delete":
        return sql`DELETE FROM pacientes WHERE id = ${id} RETURNING id`;
      case "consultas.insert":
        return sql`INSERT INTO consultas (paciente_id, fisioterapeuta_id, data_consulta)
                   VALUES (${fx.pacA}, ${fisio}, ${nextSlot()}) RETURNING id`;
      case "consultas.update":
        return sql`UPDATE consultas SET status = 'confirmada' WHERE id = ${id} RETURNING id`;
      case "prontuarios.insert":
        return sql`INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, conteudo)
                   VALUES (${fx.pacA}, ${fisio}, 'Nota') RETURNING id`;
      case "prontuarios.update":
        return sql`UPDATE prontuarios SET conteudo = 'alterado' WHERE id = ${id} RETURNING id`;
      case "anexos.insert":
        return insertAnexo(sql, id, fisio);
      case "anexos.update":
        return sql`UPDATE anexos SET nome_arquivo = NULL WHERE id = ${id} RETURNING id`;
      case "exercicios.insert":
        return sql`INSERT INTO exercicios (nome, categoria)
                   VALUES (${`Novo ${crypto.randomUUID()}`}, 'alongamento') RETURNING id`;
      case "exercicios.update":
        return sql`UPDATE exercicios SET descricao = 'revisado' WHERE id = ${id} RETURNING id`;
      case "prescricoes.insert":
        return sql`INSERT INTO prescricoes (paciente_id, exercicio_id, fisioterapeuta_id, series, repeticoes, frequencia)
                   VALUES (${fx.pacA}, ${exercicio}, ${fisio}, 2, 12, 'diária') RETURNING id`;
      case "prescricoes.update":
        return sql`UPDATE prescricoes SET series = 4 WHERE id = ${id} RETURNING id`;
      case "audit.select":
        return sql`SELECT id FROM audit.log WHERE row_id = ${id} LIMIT 1`;
      case "audit.insert":
        return sql`INSERT INTO audit.log (tabela, row_id, operacao) VALUES ('pacientes', ${id}, 'READ') RETURNING id`;
      case "audit.update":
        return sql`UPDATE audit.log SET operacao = 'READ' WHERE row_id = ${id} RETURNING id`;
      case "audit.delete":
        return sql`DELETE FROM audit.log WHERE row_id = ${id} RETURNING id`;
    }
    const table = t; // the other tables' select + delete
    if (op === "select") return sql.query(`SELECT id FROM ${table} WHERE id = $1`, [id]);
    return sql.query(`DELETE FROM ${table} WHERE id = $1 RETURNING id`, [id]);
  };

  beforeAll(async () => {
    if (skip) return;
    db = await startTestDb(name, "rls");
    fx = await createFixture(db);
    exercicio = await sys(
      "INSERT INTO exercicios (nome, categoria) VALUES ('Ponte glútea', 'fortalecimento') RETURNING id",
      [],
    );
  });
  afterAll(async () => {
    await db?.close();
  });

  for (const table of Object.keys(EXPECTED) as Table[]) {
    it.skipIf(skip)(`${table}: 5 actors × select/insert/update/delete`, async () => {
      const got: Record<string, Outcome> = {};
      const want: Record<string, Outcome> = {};
      const gotDenial: Record<string, Denial> = {};
      const wantDenial: Record<string, Denial> = {};
      for (const op of OPS) {
        for (const actor of ACTORS) {
          const id = await target[table](op);
          const cell = `${op}.${actor}`;
          let outcome: Outcome;
          try {
            const [rows] = (await db.as(auth(actor), (sql) => [
              statement(table, op, sql, id, actor),
            ])) as unknown[][];
            outcome = rows!.length > 0 ? "ok" : "none";
          } catch (err) {
            if (pgError(err)?.code !== "42501") throw err;
            outcome = "denied";
            gotDenial[cell] = denial(err, table);
          }
          got[cell] = outcome;
          want[cell] = EXPECTED[table][op][actor];
          if (want[cell] === "denied") wantDenial[cell] = GRANTED[table].includes(op) ? "rls" : "grant";
        }
      }
      expect(got).toEqual(want);
      expect(gotDenial).toEqual(wantDenial);
    });
  }

  it.skipIf(skip)("fisioterapeuta A cannot write for own paciente A in fisioterapeuta B's name", async () => {
    const write = (c: NameCase, sql: Sql, id: string, name: string) => {
      switch (c) {
        case "consultas.insert":
          return sql`INSERT INTO consultas (paciente_id, fisioterapeuta_id, data_consulta)
                     VALUES (${fx.pacA}, ${name}, ${nextSlot()}) RETURNING fisioterapeuta_id`;
        case "prontuarios.insert":
          return sql`INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, conteudo)
                     VALUES (${fx.pacA}, ${name}, 'Nota') RETURNING fisioterapeuta_id`;
        case "anexos.insert":
          return insertAnexo(sql, id, name);
        case "prescricoes.insert":
          return sql`INSERT INTO prescricoes (paciente_id, exercicio_id, fisioterapeuta_id, series, repeticoes, frequencia)
                     VALUES (${fx.pacA}, ${exercicio}, ${name}, 2, 12, 'diária') RETURNING fisioterapeuta_id`;
        case "consultas.update":
          return sql`UPDATE consultas SET fisioterapeuta_id = ${name} WHERE id = ${id} RETURNING fisioterapeuta_id`;
        case "prescricoes.update":
          return sql`UPDATE prescricoes SET fisioterapeuta_id = ${name} WHERE id = ${id} RETURNING fisioterapeuta_id`;
      }
    };
    const got: Record<string, Outcome | Denial> = {};
    const want: Record<string, Outcome | Denial> = {};
    for (const c of Object.keys(IN_NAME_OF) as NameCase[]) {
      for (const who of ["own", "fisioB"] as const) {
        const name = who === "own" ? fx.fisioA : fx.fisioB;
        const table = c.split(".")[0] as Table;
        // paciente A's row, by fisioterapeuta A (for anexos: the prontuario to attach to)
        const id = await target[table](table === "anexos" ? "insert" : "update");
        const cell = `${c}.${who}`;
        try {
          const [rows] = (await db.as(auth("fisioA"), (sql) => [write(c, sql, id, name)])) as {
            fisioterapeuta_id: string;
          }[][];
          got[cell] = rows!.length === 1 && rows![0]!.fisioterapeuta_id === name ? "ok" : "none";
        } catch (err) {
          if (pgError(err)?.code !== "42501") throw err;
          got[cell] = "denied";
          got[`${cell}.cause`] = denial(err, table);
        }
        want[cell] = IN_NAME_OF[c][who];
        if (want[cell] === "denied") want[`${cell}.cause`] = "rls";
      }
    }
    expect(got).toEqual(want);
  });

  it.skipIf(skip)("no identity: nothing visible anywhere", async () => {
    const results = await db.as(null, (sql) => [
      sql`SELECT count(*)::int AS n FROM pacientes`,
      sql`SELECT count(*)::int AS n FROM consultas`,
      sql`SELECT count(*)::int AS n FROM prontuarios`,
      sql`SELECT count(*)::int AS n FROM anexos`,
      sql`SELECT count(*)::int AS n FROM prescricoes`,
      sql`SELECT count(*)::int AS n FROM audit.log`,
      sql`SELECT count(*)::int AS n FROM exercicios`,
      sql`SELECT count(*)::int AS n FROM fisioterapeutas`,
    ]);
    expect(results.map((r) => (r as { n: number }[])[0]!.n)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it.skipIf(skip)("prontuarios: append-only even for the owner; corrections are versioned", async () => {
    const original = await target.prontuarios("update");
    // The owner under its system identity: no UPDATE/DELETE policy exists, so nothing matches…
    const upd = await db.system((c) =>
      c.query("UPDATE prontuarios SET conteudo = 'x' WHERE id = $1", [original]),
    );
    expect(upd.rowCount).toBe(0);
    // …and with RLS lifted (owner, NO FORCE) the trigger still refuses, UPDATE and DELETE alike.
    for (const stmt of [
      "UPDATE prontuarios SET conteudo = 'x' WHERE id = $1",
      "DELETE FROM prontuarios WHERE id = $1",
    ]) {
      const err = await db
        .system(async (c) => {
          await c.query("ALTER TABLE prontuarios NO FORCE ROW LEVEL SECURITY");
          await c.query(stmt, [original]);
        })
        .catch((e) => e);
      expect(err.code, stmt).toBe("42501");
      expect(err.message).toMatch(/append-only/);
    }

    const fisio = auth("fisioA");
    const [v2] = (await db.as(fisio, (sql) => [
      sql`INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, corrige_id, versao, conteudo)
          VALUES (${fx.pacA}, ${fx.fisioA}, ${original}, 99, 'Correção') RETURNING id, versao`,
    ])) as { id: string; versao: number }[][];
    expect(v2![0]!.versao).toBe(2);
    const [v3] = (await db.as(fisio, (sql) => [
      sql`INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, corrige_id, conteudo)
          VALUES (${fx.pacA}, ${fx.fisioA}, ${v2![0]!.id}, 'Correção 2') RETURNING versao`,
    ])) as { versao: number }[][];
    expect(v3![0]!.versao).toBe(3);
    // A row is corrected at most once: versions form a chain, not a tree.
    const fork = await db
      .as(fisio, (sql) => [
        sql`INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, corrige_id, conteudo)
            VALUES (${fx.pacA}, ${fx.fisioA}, ${original}, 'Outra') RETURNING versao`,
      ])
      .catch((e) => e);
    expect(pgError(fork)?.code).toBe("23505");
    // Another fisioterapeuta cannot even see the row to correct it.
    const other = await db
      .as(auth("fisioB"), (sql) => [
        sql`INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, corrige_id, conteudo)
            VALUES (${fx.pacA}, ${fx.fisioB}, ${original}, 'Intruso')`,
      ])
      .catch((e) => e);
    expect(pgError(other)?.code).toBe("23503");
  });

  it.skipIf(skip)(
    "audit rows carry actor, role, table, row, operation and column names — never values",
    async () => {
      const fisio = auth("fisioA");
      await db.as(fisio, (sql) => [
        sql`UPDATE pacientes SET telefone = '(21) 98888-7777', cpf = '11144477735' WHERE id = ${fx.pacA}`,
        sql`SELECT audit.registrar_leitura('pacientes', ARRAY[${fx.pacA}]::uuid[])`,
      ]);
      const [rows] = (await db.as(auth("admin"), (sql) => [
        sql`SELECT actor_id, actor_role, tabela, row_id, operacao, colunas, to_jsonb(l)::text AS raw
            FROM audit.log l WHERE row_id = ${fx.pacA} AND actor_id = ${fx.fisioA} ORDER BY id`,
      ])) as Record<string, unknown>[][];
      const update = rows!.find((r) => r.operacao === "UPDATE")!;
      expect(update).toMatchObject({
        actor_id: fx.fisioA,
        actor_role: "fisioterapeuta",
        tabela: "pacientes",
        row_id: fx.pacA,
        colunas: ["cpf", "telefone"],
      });
      expect(rows!.some((r) => r.operacao === "READ")).toBe(true);
      for (const r of rows!) expect(String(r.raw)).not.toMatch(/98888|11144477735|Carla/);
    },
  );
});
