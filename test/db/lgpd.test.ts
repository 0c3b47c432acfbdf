/**
 * LGPD anonymisation in the database (app.anonimizar_paciente, 0010): admins only, personal data
 * replaced for good (key tables and the search copy too), clinical content and audit kept, and
 * the act itself audited.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgError } from "../../db/errors";
import type { Auth } from "../../db/session";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, type TestDb } from "../harness/db";

const backends = await testBackends();

describe.each(backends)("LGPD anonymisation on $name", ({ name, skip }) => {
  let db: TestDb;
  let fx: Fixture;
  const admin: Auth = { userId: "00000000-0000-4000-8000-0000000000aa", role: "admin" };
  beforeAll(async () => {
    if (skip) return;
    db = await startTestDb(name, "lgpd");
    fx = await createFixture(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  const newPaciente = async (email: string, cpf: string) => {
    const id = crypto.randomUUID();
    await db.system(async (c) => {
      await c.query(
        `INSERT INTO pacientes (id, nome, email, telefone, data_nascimento, cpf, fisioterapeuta_id)
         VALUES ($1, 'Helena Marques', $2, '(11) 97777-1234', '1975-05-05', $3, $4)`,
        [id, email, cpf, fx.fisioA],
      );
      await c.query(
        "INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, conteudo) VALUES ($1, $2, 'Lombalgia crônica; evolução boa')",
        [id, fx.fisioA],
      );
    });
    return id;
  };
  const anonymise = (auth: Auth, id: string) =>
    db.as(auth, (sql) => [sql`SELECT app.anonimizar_paciente(${id}::uuid) AS ok`]);

  it.skipIf(skip)("an admin's call replaces personal data for good and keeps clinical content", async () => {
    const email = `helena.${name}@x.br`;
    const id = await newPaciente(email, "39053344705");
    const [[result]] = (await anonymise(admin, id)) as { ok: boolean }[][];
    expect(result!.ok).toBe(true);
    const { rows } = await db.system((c) =>
      c.query(
        "SELECT nome, email, telefone, data_nascimento, cpf, status, fisioterapeuta_id FROM pacientes WHERE id = $1",
        [id],
      ),
    );
    expect(rows[0]).toEqual({
      nome: "Paciente anonimizado",
      email: null,
      telefone: null,
      data_nascimento: null,
      cpf: null,
      status: "anonimizado",
      fisioterapeuta_id: fx.fisioA,
    });
    const clinical = await db.system((c) =>
      c.query("SELECT conteudo FROM prontuarios WHERE paciente_id = $1", [id]),
    );
    expect(clinical.rows.map((r) => r.conteudo)).toEqual(["Lombalgia crônica; evolução boa"]);
    // Nothing of the old values is left to find: the email and CPF are free again, the name gone
    // from the search copy.
    const leftovers = await db.system((c) =>
      c.query(
        `SELECT (SELECT count(*)::int FROM private.pacientes_email WHERE email = $1) AS emails,
                (SELECT count(*)::int FROM private.pacientes_cpf WHERE cpf = $2) AS cpfs,
                (SELECT count(*)::int FROM private.pacientes_busca WHERE paciente_id = $3 AND nome_norm LIKE '%helena%') AS busca`,
        [email, "39053344705", id],
      ),
    );
    expect(leftovers.rows[0]).toEqual({ emails: 0, cpfs: 0, busca: 0 });
    const again = await newPaciente(email, "39053344705");
    expect(again).toBeTruthy();
    // Audited: the update (column names only) and the anonymisation, both naming the admin.
    const [audit] = (await db.as(admin, (sql) => [
      sql`SELECT actor_id, actor_role, operacao, colunas FROM audit.log
           WHERE row_id = ${id} AND operacao IN ('UPDATE', 'ANONYMIZE') ORDER BY id`,
    ])) as Record<string, unknown>[][];
    expect(audit).toEqual([
      {
        actor_id: admin.userId,
        actor_role: "admin",
        operacao: "UPDATE",
        colunas: ["cpf", "data_nascimento", "email", "nome", "status", "telefone"],
      },
      {
        actor_id: admin.userId,
        actor_role: "admin",
        operacao: "ANONYMIZE",
        colunas: ["cpf", "data_nascimento", "email", "nome", "telefone"],
      },
    ]);
  });

  it.skipIf(skip)("refuses anyone but an admin, and changes nothing", async () => {
    const id = await newPaciente(`naoadmin.${name}@x.br`, "04876199020");
    for (const auth of [
      { userId: fx.fisioA, role: "fisioterapeuta" },
      { userId: id, role: "paciente" },
    ] as Auth[]) {
      const err = await anonymise(auth, id).catch((e) => e);
      expect(pgError(err)?.code, auth.role).toBe("42501");
    }
    const { rows } = await db.system((c) =>
      c.query("SELECT nome, status FROM pacientes WHERE id = $1", [id]),
    );
    expect(rows[0]).toEqual({ nome: "Helena Marques", status: "ativo" });
  });

  it.skipIf(skip)("answers false for an unknown paciente", async () => {
    const [[result]] = (await anonymise(admin, crypto.randomUUID())) as { ok: boolean }[][];
    expect(result!.ok).toBe(false);
  });
});
