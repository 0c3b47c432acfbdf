/**
 * No double booking, enforced by the database: across month partitions, under 50 concurrent HTTP
 * requests as the app role, with cancellation freeing the slot and moves keeping the guarantee.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSlotTaken, SLOT_TAKEN } from "../../db/errors";
import { ensurePartitions } from "../../db/partitions";
import type { Auth } from "../../db/session";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, type TestDb } from "../harness/db";

const backends = await testBackends();

describe.each(backends)("double booking on $name", ({ name, skip }) => {
  let db: TestDb;
  let fx: Fixture;
  let fisio: Auth;
  beforeAll(async () => {
    if (skip) return;
    db = await startTestDb(name, "booking");
    fx = await createFixture(db);
    fisio = { userId: fx.fisioA, role: "fisioterapeuta" };
    // 2030-01 .. 2030-05 partitions exist; other months go to DEFAULT.
    await db.withOwner((c) => ensurePartitions(c, { now: new Date("2030-01-15T00:00:00Z"), monthsAhead: 4 }));
  });
  afterAll(async () => {
    await db?.close();
  });

  const book = (
    start: string,
    opts: { id?: string; duracao?: number; auth?: Auth; paciente?: string; fisio?: string } = {},
  ) =>
    db.as(opts.auth ?? fisio, (sql) => [
      sql`INSERT INTO consultas (id, paciente_id, fisioterapeuta_id, data_consulta, duracao_min)
          VALUES (${opts.id ?? crypto.randomUUID()}, ${opts.paciente ?? fx.pacA}, ${opts.fisio ?? fx.fisioA},
                  ${start}, ${opts.duracao ?? 60})
          RETURNING id, tableoid::regclass::text AS part`,
    ]);

  it.skipIf(skip)("50 concurrent conflicting requests leave exactly one consulta", async () => {
    const base = Date.parse("2030-02-10T13:00:00Z");
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, k) => book(new Date(base + k * 60_000).toISOString())),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(49);
    for (const f of failed) {
      expect(isSlotTaken(f.reason), String(f.reason)).toBe(true);
      expect(f.reason.code).toBe(SLOT_TAKEN.code);
      expect(f.reason.constraint).toBe(SLOT_TAKEN.constraint);
    }
    const [rows] = await db.as(fisio, (sql) => [
      sql`SELECT count(*)::int AS n FROM consultas
           WHERE data_consulta BETWEEN '2030-02-10T12:00Z' AND '2030-02-10T15:00Z'`,
    ]);
    expect(rows).toEqual([{ n: 1 }]);
  });

  it.skipIf(skip)(
    "an overlap across a month boundary (and partitions) is refused; adjacency is fine",
    async () => {
      const [jan] = (await book("2030-01-31T23:30:00Z")) as { part: string }[][];
      expect(jan![0]!.part).toBe("consultas_y2030m01");
      const err = await book("2030-02-01T00:00:00Z").catch((e) => e);
      expect(isSlotTaken(err)).toBe(true);
      const [feb] = (await book("2030-02-01T00:30:00Z")) as { part: string }[][];
      expect(feb![0]!.part).toBe("consultas_y2030m02");
      // Same time, another fisioterapeuta: allowed.
      await book("2030-02-01T00:00:00Z", {
        auth: { userId: fx.fisioB, role: "fisioterapeuta" },
        paciente: fx.pacB,
        fisio: fx.fisioB,
      });
      // DEFAULT partition (no month partition) is covered as well.
      await book("2035-07-01T10:00:00Z");
      expect(isSlotTaken(await book("2035-07-01T10:59:00Z").catch((e) => e))).toBe(true);
    },
  );

  it.skipIf(skip)("cancelling frees the slot; reactivating the cancelled one conflicts", async () => {
    const first = crypto.randomUUID();
    await book("2030-03-05T14:00:00Z", { id: first });
    expect(isSlotTaken(await book("2030-03-05T14:30:00Z").catch((e) => e))).toBe(true);
    await db.as(fisio, (sql) => [sql`UPDATE consultas SET status = 'cancelada' WHERE id = ${first}`]);
    await book("2030-03-05T14:30:00Z");
    const err = await db
      .as(fisio, (sql) => [sql`UPDATE consultas SET status = 'agendada' WHERE id = ${first}`])
      .catch((e) => e);
    expect(isSlotTaken(err)).toBe(true);
  });

  it.skipIf(skip)(
    "moving a consulta to another month keeps the guarantee and frees the old slot",
    async () => {
      const moving = crypto.randomUUID();
      await book("2030-03-20T10:00:00Z", { id: moving });
      await book("2030-04-20T10:00:00Z");
      // Into a taken slot in another partition: refused, nothing changes.
      const err = await db
        .as(fisio, (sql) => [
          sql`UPDATE consultas SET data_consulta = '2030-04-20T10:15:00Z' WHERE id = ${moving}`,
        ])
        .catch((e) => e);
      expect(isSlotTaken(err)).toBe(true);
      // Into a free one: the row changes partition, the ledger follows.
      const [moved] = await db.as(fisio, (sql) => [
        sql`UPDATE consultas SET data_consulta = '2030-04-20T11:00:00Z' WHERE id = ${moving}
          RETURNING tableoid::regclass::text AS part`,
      ]);
      expect(moved).toEqual([{ part: "consultas_y2030m04" }]);
      await book("2030-03-20T10:00:00Z");
      expect(isSlotTaken(await book("2030-04-20T11:30:00Z").catch((e) => e))).toBe(true);
      // Lengthening into free time is fine: 11:00–12:30 touches nothing booked.
      const [lengthened] = await db.as(fisio, (sql) => [
        sql`UPDATE consultas SET duracao_min = 90 WHERE id = ${moving}
            RETURNING id, duracao_min, tableoid::regclass::text AS part`,
      ]);
      expect(lengthened).toEqual([{ id: moving, duracao_min: 90, part: "consultas_y2030m04" }]);
      // The ledger follows the new length: 12:00 is inside 11:00–12:30 now.
      expect(isSlotTaken(await book("2030-04-20T12:00:00Z").catch((e) => e))).toBe(true);
      // Moving it earlier: 09:30–11:00 (its new length) overlaps the neighbour at 10:00–11:00.
      const err3 = await db
        .as(fisio, (sql) => [
          sql`UPDATE consultas SET data_consulta = '2030-04-20T09:30:00Z' WHERE id = ${moving}`,
        ])
        .catch((e) => e);
      expect(isSlotTaken(err3)).toBe(true);
    },
  );
});
