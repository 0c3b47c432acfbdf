/**
 * drizzle-orm's Neon drivers against the local endpoint: neon-http (queries, returning, atomic
 * db.batch) and neon-serverless (interactive db.transaction) — on PGlite and PostgreSQL.
 */
import { neon, Pool } from "@neondatabase/serverless";
import { eq, sql } from "drizzle-orm";
import { drizzle as drizzleHttp } from "drizzle-orm/neon-http";
import { drizzle as drizzleWs } from "drizzle-orm/neon-serverless";
import { boolean, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();

const things = pgTable("things", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull().unique(),
  qty: integer().notNull().default(0),
  active: boolean().notNull().default(true),
  meta: jsonb().$type<{ tags: string[] }>(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

const DDL = `create table things (
  id uuid primary key default gen_random_uuid(),
  name text not null unique,
  qty integer not null default 0,
  active boolean not null default true,
  meta jsonb,
  created_at timestamptz not null default now()
)`;

for (const { name, skip } of backends) {
  describe.skipIf(skip)(`drizzle over the local endpoint on ${name}`, () => {
    let t: TestEndpoint;

    beforeAll(async () => {
      t = await startTestEndpoint(name, { prefix: "neon_drizzle" });
      await neon(t.endpoint.connectionString("fisioflow_owner")).query(DDL);
    });
    afterAll(async () => {
      await t?.close();
    });

    describe("neon-http", () => {
      const db = () =>
        drizzleHttp(neon(t.endpoint.connectionString("fisioflow_owner")), { casing: "snake_case" });

      it("inserts with returning and selects typed rows", async () => {
        const [created] = await db()
          .insert(things)
          .values({ name: "bola", qty: 3, meta: { tags: ["a", "b"] } })
          .returning();
        expect(created).toMatchObject({ name: "bola", qty: 3, active: true, meta: { tags: ["a", "b"] } });
        expect(created!.createdAt).toBeInstanceOf(Date);
        const rows = await db().select().from(things).where(eq(things.id, created!.id));
        expect(rows).toEqual([created]);
        const [{ n }] = (await db().select({ n: sql<number>`count(*)::int` }).from(things)) as [
          { n: number },
        ];
        expect(n).toBe(1);
      });

      it("runs db.batch atomically", async () => {
        const results = await db().batch([
          db().insert(things).values({ name: "faixa" }).returning({ id: things.id }),
          db().update(things).set({ qty: 9 }).where(eq(things.name, "faixa")).returning({ qty: things.qty }),
        ]);
        expect(results[1]).toEqual([{ qty: 9 }]);
        await expect(
          db().batch([
            db().insert(things).values({ name: "halter" }),
            db().insert(things).values({ name: "bola" }), // duplicate name → the whole batch fails
          ]),
        ).rejects.toThrow();
        expect(await db().select().from(things).where(eq(things.name, "halter"))).toEqual([]);
      });

      it("refuses interactive transactions, by design", async () => {
        await expect(db().transaction(async () => {})).rejects.toThrow();
      });
    });

    describe("neon-serverless", () => {
      let pool: Pool;
      beforeAll(() => {
        pool = new Pool({ connectionString: t.endpoint.connectionString("fisioflow_owner") });
      });
      afterAll(async () => {
        await pool?.end();
      });

      it("commits db.transaction", async () => {
        const db = drizzleWs(pool, { casing: "snake_case" });
        const id = await db.transaction(async (tx) => {
          const [row] = await tx.insert(things).values({ name: "elastico", qty: 1 }).returning();
          await tx
            .update(things)
            .set({ qty: sql`${things.qty} + 1` })
            .where(eq(things.id, row!.id));
          return row!.id;
        });
        const [row] = await db.select().from(things).where(eq(things.id, id));
        expect(row!.qty).toBe(2);
      });

      it("rolls db.transaction back on error", async () => {
        const db = drizzleWs(pool, { casing: "snake_case" });
        await expect(
          db.transaction(async (tx) => {
            await tx.insert(things).values({ name: "colchonete" });
            throw new Error("abort");
          }),
        ).rejects.toThrow("abort");
        expect(await db.select().from(things).where(eq(things.name, "colchonete"))).toEqual([]);
      });
    });
  });
}
