/**
 * The rules the schema must follow, each shown broken (where PostgreSQL rejects the tempting
 * form) and shown kept, through the official driver against the local endpoint: keys on
 * partitioned tables contain the partition key, uniqueness across hash partitions, partial
 * indexes on real columns, indexes created on partitioned parents, RLS that the app cannot
 * escape, and an audit log only admins read.
 */
import type { PoolClient } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isUniqueViolation } from "../../db/errors";
import { ensurePartitions } from "../../db/partitions";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, type TestDb } from "../harness/db";

const backends = await testBackends();

async function rejects(c: PoolClient, sql: string): Promise<{ code?: string; message: string }> {
  await c.query("BEGIN");
  try {
    await c.query(sql);
  } catch (err) {
    return err as { code?: string; message: string };
  } finally {
    await c.query("ROLLBACK").catch(() => {});
  }
  // Outside the catch: a statement that was accepted fails the test whatever the caller checks.
  throw new Error(`expected PostgreSQL to reject: ${sql.slice(0, 80)}`);
}

describe.each(backends)("schema rules on $name", ({ name, skip }) => {
  let db: TestDb;
  let fx: Fixture;
  let c: PoolClient;
  beforeAll(async () => {
    if (skip) return;
    db = await startTestDb(name, "plan");
    fx = await createFixture(db);
    c = await db.owner();
  });
  afterAll(async () => {
    c?.release();
    await db?.close();
  });

  it.skipIf(skip)(
    "a key on partitioned consultas contains data_consulta: PRIMARY KEY (id) is rejected, id stays unique",
    async () => {
      const err = await rejects(
        c,
        `CREATE TABLE public.plan_consultas (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         data_consulta timestamptz NOT NULL
       ) PARTITION BY RANGE (data_consulta)`,
      );
      expect(err.code).toBe("0A000");
      expect(err.message).toMatch(/must include all partitioning columns/);

      const pk = await c.query(
        `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = 'public.consultas'::regclass AND contype = 'p'`,
      );
      expect(pk.rows[0].def).toBe("PRIMARY KEY (id, data_consulta)");
      // id alone is still unique across months (the booking ledger's key).
      const id = crypto.randomUUID();
      const err2 = await db
        .system(async (s) => {
          await s.query(
            `INSERT INTO consultas (id, paciente_id, fisioterapeuta_id, data_consulta)
           VALUES ($1, $2, $3, '2031-01-10T10:00Z'), ($1, $2, $3, '2031-03-10T10:00Z')`,
            [id, fx.pacA, fx.fisioA],
          );
        })
        .catch((e) => e);
      expect(isUniqueViolation(err2, "consultas_id_key")).toBe(true);
    },
  );

  it.skipIf(skip)(
    "email and CPF are unique across pacientes' hash partitions: a plain UNIQUE (email) is rejected",
    async () => {
      const err = await rejects(
        c,
        `CREATE TABLE public.plan_pacientes (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         email varchar(255) UNIQUE
       ) PARTITION BY HASH (id)`,
      );
      expect(err.code).toBe("0A000");

      // Find two ids that land in different partitions, then give them the same email / CPF.
      const ids: { id: string; part: string }[] = [];
      await db
        .system(async (s) => {
          for (let i = 0; i < 12; i++) {
            const id = crypto.randomUUID();
            const r = await s.query(
              `INSERT INTO pacientes (id, nome, fisioterapeuta_id) VALUES ($1, 'Probe', $2)
             RETURNING tableoid::regclass::text AS part`,
              [id, fx.fisioA],
            );
            ids.push({ id, part: r.rows[0].part });
          }
          throw new Error("rollback");
        })
        .catch(() => {});
      const first = ids[0]!;
      const other = ids.find((x) => x.part !== first.part)!;
      expect(other).toBeDefined();

      const dupEmail = await db
        .as({ userId: fx.fisioA, role: "fisioterapeuta" }, (sql) => [
          sql`INSERT INTO pacientes (id, nome, email, fisioterapeuta_id) VALUES (${first.id}, 'Eva', 'eva@x.br', ${fx.fisioA})`,
          sql`INSERT INTO pacientes (id, nome, email, fisioterapeuta_id) VALUES (${other.id}, 'Eva 2', 'EVA@x.br', ${fx.fisioA})`,
        ])
        .catch((e) => e);
      expect(isUniqueViolation(dupEmail, "pacientes_email_key")).toBe(true);

      const dupCpf = await db
        .as({ userId: fx.fisioA, role: "fisioterapeuta" }, (sql) => [
          sql`INSERT INTO pacientes (id, nome, cpf, fisioterapeuta_id) VALUES (${first.id}, 'Eva', '52998224725', ${fx.fisioA})`,
          sql`INSERT INTO pacientes (id, nome, cpf, fisioterapeuta_id) VALUES (${other.id}, 'Ivo', '52998224725', ${fx.fisioA})`,
        ])
        .catch((e) => e);
      expect(isUniqueViolation(dupCpf, "pacientes_cpf_key")).toBe(true);

      // A freed email can be reused (update and delete keep the key table in step).
      await db.as({ userId: fx.fisioA, role: "fisioterapeuta" }, (sql) => [
        sql`INSERT INTO pacientes (id, nome, email, fisioterapeuta_id) VALUES (${first.id}, 'Eva', 'eva@x.br', ${fx.fisioA})`,
        sql`UPDATE pacientes SET email = 'eva.nova@x.br' WHERE id = ${first.id}`,
        sql`INSERT INTO pacientes (id, nome, email, fisioterapeuta_id) VALUES (${other.id}, 'Eva 2', 'eva@x.br', ${fx.fisioA})`,
      ]);

      // The key table cannot be used to probe other clinics' emails: no grant at all.
      const probe = await db
        .as({ userId: fx.fisioA, role: "admin" }, (sql) => [sql`SELECT * FROM private.pacientes_email`])
        .catch((e) => e);
      expect(probe.code).toBe("42501");
    },
  );

  it.skipIf(skip)(
    "the partial index on active pacientes is on a real status column, on every partition",
    async () => {
      const col = await c.query(
        `SELECT column_default FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'pacientes' AND column_name = 'status'`,
      );
      expect(col.rows[0].column_default).toMatch(/'ativo'/);
      const idx = await c.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'pacientes_ativos_idx'`);
      expect(idx.rows[0].indexdef).toMatch(/WHERE \(status = 'ativo'::text\)/);
      const parts = await c.query(
        `SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
        WHERE i.inhparent = 'public.pacientes_ativos_idx'::regclass AND x.indpred IS NOT NULL`,
      );
      expect(parts.rows[0].n).toBe(4);
    },
  );

  it.skipIf(skip)(
    "indexes are created on partitioned parents (CONCURRENTLY is rejected there) and cascade",
    async () => {
      const err = await c
        .query("CREATE INDEX CONCURRENTLY plan_idx ON public.consultas (status)")
        .catch((e) => e);
      expect(err.code).toBe("0A000");
      expect(err.message).toMatch(/concurrently/);

      await ensurePartitions(c, { now: new Date("2031-06-15T00:00:00Z"), monthsAhead: 1 });
      const check = async (table: string) => {
        const { rows } = await c.query(
          `SELECT pi.indexrelid::regclass::text AS idx,
                (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = pi.indexrelid)::int AS children,
                (SELECT count(*) FROM pg_inherits t WHERE t.inhparent = $1::regclass)::int AS partitions
           FROM pg_index pi WHERE pi.indrelid = $1::regclass`,
          [table],
        );
        expect(rows.length).toBeGreaterThan(1);
        for (const r of rows) expect(r.children, r.idx).toBe(r.partitions);
      };
      await check("public.consultas");
      await check("public.pacientes");

      // A new plain CREATE INDEX on the parent reaches every existing partition.
      await c.query("BEGIN");
      try {
        await c.query("CREATE INDEX consultas_status_probe_idx ON public.consultas (status)");
        await check("public.consultas");
      } finally {
        await c.query("ROLLBACK");
      }
    },
  );

  it.skipIf(skip)(
    "RLS reads the per-transaction identity, is forced, and the app role owns nothing",
    async () => {
      const forced = await c.query(
        `SELECT c.oid::regclass::text AS t, c.relrowsecurity AS rls, c.relforcerowsecurity AS force
         FROM pg_class c WHERE c.oid IN (SELECT polrelid FROM pg_policy)`,
      );
      expect(forced.rows.length).toBeGreaterThanOrEqual(8);
      for (const r of forced.rows) expect([r.t, r.rls, r.force]).toEqual([r.t, true, true]);
      const auth = await c.query(
        `SELECT count(*)::int AS n FROM pg_policies WHERE coalesce(qual, '') || coalesce(with_check, '') LIKE '%auth.%'`,
      );
      expect(auth.rows[0].n).toBe(0);
      const owned = await c.query(
        `SELECT count(*)::int AS n FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = 'fisioflow_app')`,
      );
      expect(owned.rows[0].n).toBe(0);
      const role = await c.query(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'fisioflow_app'",
      );
      expect(role.rows[0]).toEqual({ rolsuper: false, rolbypassrls: false });

      // Rows exist, yet: the app role with no identity sees none…
      const [none] = await db.as(null, (sql) => [sql`SELECT count(*)::int AS n FROM pacientes`]);
      expect(none).toEqual([{ n: 0 }]);
      // …claiming the owner's 'system' identity gives the app role nothing…
      const [sys] = await db
        .as(null, (sql) => [
          sql`SELECT set_config('app.role', 'system', true)`,
          sql`SELECT count(*)::int AS n FROM pacientes`,
        ])
        .then((r) => r.slice(1));
      expect(sys).toEqual([{ n: 0 }]);
      // …and FORCE applies to the owner too, until it declares its maintenance identity.
      const owner = await c.query("SELECT count(*)::int AS n FROM pacientes");
      expect(owner.rows[0].n).toBe(0);
      const asSystem = await db.system((s) => s.query("SELECT count(*)::int AS n FROM pacientes"));
      expect(asSystem.rows[0].n).toBeGreaterThanOrEqual(2);
      // The app role cannot reach a partition directly (which would skip the parent's policies).
      const direct = await db
        .as({ userId: fx.fisioA, role: "admin" }, (sql) => [sql`SELECT * FROM pacientes_p0`])
        .catch((e) => e);
      expect(direct.code).toBe("42501");
    },
  );

  it.skipIf(skip)("audit rows are readable by admins only and writable by no one directly", async () => {
    await db.as({ userId: fx.fisioA, role: "fisioterapeuta" }, (sql) => [
      sql`UPDATE pacientes SET telefone = '(11) 90000-0000' WHERE id = ${fx.pacA}`,
    ]);
    const count = async (auth: Parameters<TestDb["as"]>[0]) =>
      (
        (await db.as(auth, (sql) => [sql`SELECT count(*)::int AS n FROM audit.log`]))[0] as { n: number }[]
      )[0]!.n;
    expect(await count(null)).toBe(0);
    expect(await count({ userId: fx.fisioA, role: "fisioterapeuta" })).toBe(0);
    expect(await count({ userId: fx.pacA, role: "paciente" })).toBe(0);
    expect(await count({ userId: fx.fisioA, role: "admin" })).toBeGreaterThan(0);
    for (const stmt of [
      "INSERT INTO audit.log (tabela, operacao) VALUES ('x', 'INSERT')",
      "UPDATE audit.log SET tabela = 'x'",
      "DELETE FROM audit.log",
    ]) {
      const err = await db
        .as({ userId: fx.fisioA, role: "admin" }, (sql) => [sql.query(stmt)])
        .catch((e) => e);
      expect(err.code, stmt).toBe("42501");
    }
    const open = await c.query(
      `SELECT count(*)::int AS n FROM pg_policies WHERE schemaname = 'audit' AND qual = 'true' AND cmd IN ('SELECT', 'ALL')`,
    );
    expect(open.rows[0].n).toBe(0);
  });
});
