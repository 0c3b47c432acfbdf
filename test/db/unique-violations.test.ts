/**
 * Email/CPF are unique across clinics, so a duplicate tells a fisioterapeuta that the value exists
 * in another clinic. db/errors.ts maps the violation to a field and a generic message that never
 * contains the value (the driver's message/detail does). See db/README.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueViolationField, uniqueViolationMessage } from "../../db/errors";
import type { Auth } from "../../db/session";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, type TestDb } from "../harness/db";

const backends = await testBackends();

describe("uniqueViolationField (pure)", () => {
  it("maps the email/CPF constraints, through drizzle's cause chain, and nothing else", () => {
    const e = (code: string, constraint?: string) => ({ code, constraint, message: "x" });
    expect(uniqueViolationField(e("23505", "pacientes_email_key"))).toBe("email");
    expect(uniqueViolationField(e("23505", "fisioterapeutas_email_key"))).toBe("email");
    expect(uniqueViolationField(e("23505", "pacientes_cpf_key"))).toBe("cpf");
    expect(uniqueViolationField(new Error("wrapped", { cause: e("23505", "pacientes_cpf_key") }))).toBe(
      "cpf",
    );
    expect(uniqueViolationField(e("23505", "exercicios_nome_key"))).toBeNull();
    expect(uniqueViolationField(e("23503", "pacientes_email_key"))).toBeNull();
    expect(uniqueViolationField(new Error("boom"))).toBeNull();
    expect(uniqueViolationField(null)).toBeNull();
  });
});

describe.each(backends)("unique email/CPF violations on $name", ({ name, skip }) => {
  let db: TestDb;
  let fx: Fixture;
  const cpf = "52998224725";
  let emailA: string;

  beforeAll(async () => {
    if (skip) return;
    db = await startTestDb(name, "uniq");
    fx = await createFixture(db);
    emailA = `carla.${fx.pacA}@x.br`;
    await db.system((c) => c.query("UPDATE pacientes SET cpf = $1 WHERE id = $2", [cpf, fx.pacA]));
  });
  afterAll(async () => {
    await db?.close();
  });

  it.skipIf(skip)(
    "another clinic's CPF or email gives a field and a generic message, never the value",
    async () => {
      const fisioB: Auth = { userId: fx.fisioB, role: "fisioterapeuta" };
      const cases: [string, string | null, string | null, "email" | "cpf"][] = [
        ["cpf", null, cpf, "cpf"],
        ["email", emailA.toUpperCase(), null, "email"],
      ];
      for (const [label, email, dupCpf, field] of cases) {
        const err = await db
          .as(fisioB, (sql) => [
            sql`INSERT INTO pacientes (nome, email, cpf, fisioterapeuta_id)
                VALUES ('Eva Nunes', ${email}, ${dupCpf}, ${fx.fisioB})`,
          ])
          .catch((e) => e);
        expect(err?.code, label).toBe("23505");
        expect(uniqueViolationField(err), label).toBe(field);
        const message = uniqueViolationMessage(field);
        const value = (dupCpf ?? emailA).toLowerCase();
        expect(message.toLowerCase()).not.toContain(value);
        expect(message).not.toMatch(/[0-9]{11}|@/);
        // Why the API must not pass the driver's text on: it carries the value.
        expect(`${err.message} ${err.detail ?? ""}`.toLowerCase()).toContain(value);
      }
    },
  );

  it.skipIf(skip)("a fisioterapeuta email taken elsewhere maps to email", async () => {
    const admin: Auth = { userId: crypto.randomUUID(), role: "admin" };
    const err = await db
      .as(admin, (sql) => [
        sql`INSERT INTO fisioterapeutas (nome, email, crefito)
            VALUES ('Outra', ${`ana.${fx.fisioA}@x.br`}, 'CREFITO-3/9-F')`,
      ])
      .catch((e) => e);
    expect(uniqueViolationField(err)).toBe("email");
  });
});
