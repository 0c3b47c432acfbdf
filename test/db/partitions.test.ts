/**
 * jobs/partitions: creates months ahead, is idempotent, empties DEFAULT into new months; and a
 * one-month consultas query is pruned to a single partition.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSlotTaken } from "../../db/errors";
import { ensurePartitions, existingPartitions } from "../../jobs/partitions";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, type TestDb } from "./setup";

const backends = await testBackends();

describe.each(backends)("partitions on $name", ({ name, skip }) => {
  let db: TestDb;
  let fx: Fixture;
  const now = new Date("2029-05-15T12:00:00Z");
  const job = async (opts: Parameters<typeof ensurePartitions>[1]) => {
    const c = await db.owner();
    try {
      return await ensurePartitions(c, opts);
    } finally {
      c.release();
    }
  };
  const partOf = async (id: string) =>
    (
      await db.system((c) =>
        c.query("SELECT tableoid::regclass::text AS part FROM consultas WHERE id = $1", [id]),
      )
    ).rows[0]?.part;

  beforeAll(async () => {
    if (skip) return;
    db = await startTestDb(name, "parts");
    fx = await createFixture(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  it.skipIf(skip)("creates the current month and the next N, then does nothing on a second run", async () => {
    const first = await job({ now, monthsAhead: 3 });
    expect(first).toEqual({
      created: ["consultas_y2029m05", "consultas_y2029m06", "consultas_y2029m07", "consultas_y2029m08"],
      moved: 0,
      coverageUntil: "2029-09-01T00:00:00.000Z",
    });
    const second = await job({ now, monthsAhead: 3 });
    expect(second).toEqual({ created: [], moved: 0, coverageUntil: "2029-09-01T00:00:00.000Z" });
  });

  it.skipIf(skip)(
    "moves rows that landed in DEFAULT into their new month, keeping the booking ledger",
    async () => {
      const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
      await db.system((c) =>
        c.query(
          `INSERT INTO consultas (id, paciente_id, fisioterapeuta_id, data_consulta) VALUES
           ($1, $4, $5, '2029-11-03T13:00Z'), ($2, $4, $5, '2029-11-30T23:30Z'), ($3, $4, $5, '2030-02-01T10:00Z')`,
          [...ids, fx.pacA, fx.fisioA],
        ),
      );
      expect(await partOf(ids[0]!)).toBe("consultas_default");

      const report = await job({ now, monthsAhead: 3 });
      expect(report.created).toEqual(["consultas_y2029m11", "consultas_y2030m02"]);
      expect(report.moved).toBe(3);
      expect(await partOf(ids[0]!)).toBe("consultas_y2029m11");
      expect(await partOf(ids[1]!)).toBe("consultas_y2029m11");
      expect(await partOf(ids[2]!)).toBe("consultas_y2030m02");
      const left = await db.system((c) => c.query("SELECT count(*)::int AS n FROM consultas_default"));
      expect(left.rows[0].n).toBe(0);

      // The moved rows still hold their slots (including one spilling into December's DEFAULT range).
      const clash = await db
        .as({ userId: fx.fisioA, role: "fisioterapeuta" }, (sql) => [
          sql`INSERT INTO consultas (paciente_id, fisioterapeuta_id, data_consulta)
            VALUES (${fx.pacA}, ${fx.fisioA}, '2029-12-01T00:00Z')`,
        ])
        .catch((e) => e);
      expect(isSlotTaken(clash)).toBe(true);
      // New months inherit the parent's indexes.
      const c = await db.owner();
      try {
        const idx = await c.query(
          `SELECT count(*)::int AS n FROM pg_index WHERE indrelid = 'public.consultas_y2029m11'::regclass`,
        );
        const parent = await c.query(
          `SELECT count(*)::int AS n FROM pg_index WHERE indrelid = 'public.consultas'::regclass`,
        );
        expect(idx.rows[0].n).toBe(parent.rows[0].n);
        expect((await existingPartitions(c)).has("consultas_default")).toBe(true);
      } finally {
        c.release();
      }
    },
  );

  it.skipIf(skip)("a one-month query scans exactly one partition", async () => {
    const [plan] = (await db.as({ userId: fx.fisioA, role: "fisioterapeuta" }, (sql) => [
      sql`EXPLAIN SELECT id, data_consulta FROM consultas
           WHERE paciente_id = ${fx.pacA}
             AND data_consulta >= '2029-06-01T00:00Z' AND data_consulta < '2029-07-01T00:00Z'`,
    ])) as { "QUERY PLAN": string }[][];
    const text = plan!.map((r) => r["QUERY PLAN"]).join("\n");
    const scanned = new Set(text.match(/consultas_(y\d{4}m\d{2}|default)/g));
    expect([...scanned]).toEqual(["consultas_y2029m06"]);
  });

  it.skipIf(skip)(
    "analytics: the daily summary is refreshed by the owner and readable by admins only",
    async () => {
      const n = await db.system((c) =>
        c.query("SELECT analytics.refresh_consultas_diarias('2029-11-01', '2029-12-01') AS n"),
      );
      expect(n.rows[0].n).toBe(2);
      const [admin] = await db.as({ userId: fx.fisioA, role: "admin" }, (sql) => [
        sql`SELECT dia::text, total, minutos_agendados FROM analytics.consultas_diarias ORDER BY dia`,
      ]);
      expect(admin).toEqual([
        { dia: "2029-11-03", total: 1, minutos_agendados: 50 },
        { dia: "2029-11-30", total: 1, minutos_agendados: 50 },
      ]);
      const [fisio] = await db.as({ userId: fx.fisioA, role: "fisioterapeuta" }, (sql) => [
        sql`SELECT count(*)::int AS n FROM analytics.consultas_diarias`,
      ]);
      expect(fisio).toEqual([{ n: 0 }]);
      const denied = await db
        .as({ userId: fx.fisioA, role: "admin" }, (sql) => [
          sql`SELECT analytics.refresh_consultas_diarias('2029-11-01', '2029-12-01')`,
        ])
        .catch((e) => e);
      expect(denied.code).toBe("42501");
    },
  );
});
