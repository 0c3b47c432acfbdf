/**
 * The drizzle schema is the typed mirror of the SQL migrations: every declared column is selected
 * through drizzle neon-http as the app role, with the identity statement first in db.batch.
 */
import { neon } from "@neondatabase/serverless";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSlotTaken } from "../../db/errors";
import {
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
import { createFixture, type Fixture, startTestDb, type TestDb } from "../harness/db";

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

  it.skipIf(skip)("selects every declared column of every table", async () => {
    const d = drizzle({ client: neon(db.appUrl), schema, casing: "snake_case" });
    const [, f, p, c, pr, e, rx, a, cd] = await d.batch([
      d.execute(authSql(ADMIN)),
      d.select().from(fisioterapeutas),
      d.select().from(pacientes).where(eq(pacientes.id, fx.pacA)),
      d.select().from(consultas).limit(1),
      d.select().from(prontuarios).limit(1),
      d.select().from(exercicios).limit(1),
      d.select().from(prescricoes).limit(1),
      d.select().from(auditLog).limit(1),
      d.select().from(consultasDiarias).limit(1),
    ]);
    expect(f).toHaveLength(2);
    expect(p[0]).toMatchObject({ id: fx.pacA, status: "ativo", fisioterapeuta_id: fx.fisioA });
    expect(p[0]!.created_at).toBeInstanceOf(Date);
    for (const rows of [c, pr, e, rx, cd]) expect(Array.isArray(rows)).toBe(true);
    expect(a.length).toBe(1);
  });

  it.skipIf(skip)(
    "writes through drizzle as a fisioterapeuta; a double booking maps to slot_taken",
    async () => {
      const d = drizzle({ client: neon(db.appUrl), schema, casing: "snake_case" });
      const auth: Auth = { userId: fx.fisioA, role: "fisioterapeuta" };
      const start = new Date("2031-08-04T13:00:00Z");
      const [, inserted] = await d.batch([
        d.execute(authSql(auth)),
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
          d.execute(authSql(auth)),
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
      const [rows] = await withAuth(sql, auth, (q) => [q`SELECT count(*)::int AS n FROM consultas`]);
      expect(rows).toEqual([{ n: 1 }]);
    },
  );
});
