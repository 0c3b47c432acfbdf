/**
 * LGPD anonymisation in the database (app.anonimizar_paciente, 0010, 0018): admins only, personal
 * data replaced for good (key tables and the search copy too), clinical content and audit kept
 * (attachments too, without their file names), and the act itself audited.
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

  it.skipIf(skip)(
    "attachments stay, without their names; nothing else may change or delete them, not even the owner",
    async () => {
      const id = await newPaciente(`anexos.${name}@x.br`, "71428793860");
      const anexos = [crypto.randomUUID(), crypto.randomUUID()];
      const prontuario = await db.system(async (c) => {
        const p = await c.query("SELECT id FROM prontuarios WHERE paciente_id = $1", [id]);
        for (const [i, anexo] of anexos.entries()) {
          await c.query(
            `INSERT INTO anexos (id, prontuario_id, paciente_id, fisioterapeuta_id, nome_arquivo, content_type,
                                 tamanho, sha256, r2_key)
             VALUES ($1, $2, $3, $4, $5, 'image/png', 1234, repeat('0f', 32), 'anexos/' || $2::uuid || '/' || $1::uuid)`,
            [anexo, p.rows[0].id, id, fx.fisioA, `raio-x Helena Marques ${i}.png`],
          );
        }
        return p.rows[0].id as string;
      });
      const stored = () =>
        db.system(async (c) => {
          const r = await c.query(
            "SELECT id, nome_arquivo, content_type, tamanho::int, sha256, r2_key FROM anexos WHERE paciente_id = $1 ORDER BY id",
            [id],
          );
          return r.rows;
        });
      const before = await stored();
      expect(before.map((r) => r.nome_arquivo).sort()).toEqual([
        "raio-x Helena Marques 0.png",
        "raio-x Helena Marques 1.png",
      ]);
      const refused = async (stmt: string, noForce = false) => {
        const err = await db
          .system(async (c) => {
            if (noForce) await c.query("ALTER TABLE anexos NO FORCE ROW LEVEL SECURITY");
            await c.query(stmt, [anexos[0]]);
          })
          .catch((e) => e);
        expect(pgError(err)?.code, stmt).toBe("42501");
        expect(String(err.message), stmt).toMatch(/append-only/);
      };
      // The app role has no UPDATE or DELETE grant, for any role it signs in as.
      for (const stmt of [
        "UPDATE anexos SET nome_arquivo = NULL WHERE id = $1",
        "DELETE FROM anexos WHERE id = $1",
      ]) {
        const err = await db
          .as({ userId: fx.fisioA, role: "fisioterapeuta" }, (sql) => [sql.query(stmt, [anexos[0]])])
          .catch((e) => e);
        expect(pgError(err)?.code, stmt).toBe("42501");
        expect(String(err.message), stmt).toMatch(/permission denied/);
      }
      // The owner: not even a name, while the paciente is not anonymised.
      await refused("UPDATE anexos SET nome_arquivo = NULL WHERE id = $1");

      const [[result]] = (await anonymise(admin, id)) as { ok: boolean }[][];
      expect(result!.ok).toBe(true);
      expect(await stored()).toEqual(before.map((r) => ({ ...r, nome_arquivo: null })));
      // Audited as an update of nome_arquivo (the column, never the value), by the admin.
      const [audit] = (await db.as(admin, (sql) => [
        sql`SELECT row_id, actor_id, actor_role, operacao, colunas, to_jsonb(l)::text AS raw FROM audit.log l
             WHERE tabela = 'anexos' AND row_id = ANY(${anexos}::uuid[]) AND operacao = 'UPDATE' ORDER BY row_id`,
      ])) as Record<string, unknown>[][];
      expect(audit!.map(({ raw: _, ...r }) => r)).toEqual(
        [...anexos].sort().map((row_id) => ({
          row_id,
          actor_id: admin.userId,
          actor_role: "admin",
          operacao: "UPDATE",
          colunas: ["nome_arquivo"],
        })),
      );
      for (const r of audit!) expect(String(r.raw)).not.toMatch(/Helena|raio-x/);

      // Afterwards nothing else changes, with RLS lifted too: the trigger holds for the owner.
      await refused("UPDATE anexos SET nome_arquivo = 'outro.png' WHERE id = $1");
      await refused("UPDATE anexos SET nome_arquivo = NULL, tamanho = 1 WHERE id = $1", true);
      await refused("DELETE FROM anexos WHERE id = $1", true);
      // With the append-only trigger off (an owner's deliberate act), the id still cannot change.
      const moved = await db
        .system(async (c) => {
          await c.query("ALTER TABLE anexos DISABLE TRIGGER anexos_append_only, NO FORCE ROW LEVEL SECURITY");
          await c.query("UPDATE anexos SET id = gen_random_uuid() WHERE id = $1", [anexos[0]]);
        })
        .catch((e) => e);
      expect(pgError(moved)?.code).toBe("23514");
      expect(prontuario).toBeTruthy();
    },
  );

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
