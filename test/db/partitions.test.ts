/**
 * jobs/partitions: creates months ahead, is idempotent, empties DEFAULT into new months; and a
 * one-month consultas query is pruned to a single partition.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSlotTaken } from "../../db/errors";
import {
  ensurePartitions,
  existingPartitions,
  monthFromParts,
  partitionName,
  type Queryable,
} from "../../db/partitions";
import { SYSTEM_SQL } from "../../db/session";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, type TestDb } from "../harness/db";

const backends = await testBackends();

describe.each(backends)("partitions on $name", ({ name, skip }) => {
  // Two interleaved sessions cannot exist on the single-session PGlite backend: these tests are
  // defined for PostgreSQL only (not skipped on PGlite, simply absent there).
  const itOnPostgres = (title: string, fn: () => Promise<void>, timeout?: number) => {
    if (name === "postgres") it.skipIf(skip)(title, fn, timeout);
  };
  let db: TestDb;
  let fx: Fixture;
  const now = new Date("2029-05-15T12:00:00Z");
  const job = (opts: Parameters<typeof ensurePartitions>[1]) =>
    db.withOwner((c) => ensurePartitions(c, opts));
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
      failed: [],
      coverageUntil: "2029-09-01T00:00:00.000Z",
    });
    const second = await job({ now, monthsAhead: 3 });
    expect(second).toEqual({ created: [], moved: 0, failed: [], coverageUntil: "2029-09-01T00:00:00.000Z" });
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
      await db.withOwner(async (c) => {
        const idx = await c.query(
          `SELECT count(*)::int AS n FROM pg_index WHERE indrelid = 'public.consultas_y2029m11'::regclass`,
        );
        const parent = await c.query(
          `SELECT count(*)::int AS n FROM pg_index WHERE indrelid = 'public.consultas'::regclass`,
        );
        expect(idx.rows[0].n).toBe(parent.rows[0].n);
        expect((await existingPartitions(c)).has("consultas_default")).toBe(true);
      });
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

  // ---------------------------------------------------------------- review fixes

  it.skipIf(skip)(
    "data_consulta is bounded, so DEFAULT cannot hold a month no partition can take",
    async () => {
      for (const when of ["10000-01-01T00:00Z", "1999-12-31T23:59Z", "2200-01-01T00:00Z"]) {
        const err = await db
          .system((c) =>
            c.query(
              `INSERT INTO consultas (paciente_id, fisioterapeuta_id, data_consulta) VALUES ($1, $2, $3)`,
              [fx.pacA, fx.fisioA, when],
            ),
          )
          .catch((e) => e);
        expect(err?.code, when).toBe("23514");
        expect(err.constraint, when).toBe("consultas_data_consulta_check");
      }
    },
  );

  it.skipIf(skip)("the month of a DEFAULT row does not depend on the process time zone", async () => {
    const saved = process.env.TZ;
    process.env.TZ = "Europe/Berlin";
    try {
      // The time zone really changed for this process (Node re-reads TZ when it is assigned).
      expect(new Date(Date.UTC(2030, 0, 1)).getTimezoneOffset()).toBe(-60);
      expect(partitionName(monthFromParts(2030, 1))).toBe("consultas_y2030m01");
      const id = crypto.randomUUID();
      await db.system((c) =>
        c.query(
          `INSERT INTO consultas (id, paciente_id, fisioterapeuta_id, data_consulta)
           VALUES ($1, $2, $3, '2030-01-10T10:00Z')`,
          [id, fx.pacA, fx.fisioA],
        ),
      );
      const report = await job({ now, monthsAhead: 3 });
      expect(report).toMatchObject({ created: ["consultas_y2030m01"], moved: 1, failed: [] });
      expect(await partOf(id)).toBe("consultas_y2030m01");
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it.skipIf(skip)(
    "a month that fails is reported and rolled back; the other months are still created",
    async () => {
      const [march, april] = [crypto.randomUUID(), crypto.randomUUID()];
      // Not a partition, but it holds the name the job would give March.
      await db.withOwner((c) => c.query("CREATE TABLE public.consultas_y2030m03 (squatter int)"));
      await db.system((s) =>
        s.query(
          `INSERT INTO consultas (id, paciente_id, fisioterapeuta_id, data_consulta)
         VALUES ($1, $3, $4, '2030-03-05T10:00Z'), ($2, $3, $4, '2030-04-05T10:00Z')`,
          [march, april, fx.pacA, fx.fisioA],
        ),
      );
      const lines: string[] = [];
      const report = await job({ now, monthsAhead: 3, log: (l) => lines.push(l) });
      expect(report.created).toEqual(["consultas_y2030m04"]);
      expect(report.moved).toBe(1);
      expect(report.failed).toEqual([
        {
          name: "consultas_y2030m03",
          code: "42P07",
          transient: false,
          error: expect.stringMatching(/already exists/),
        },
      ]);
      expect(lines.some((l) => l.startsWith("failed consultas_y2030m03 (42P07)"))).toBe(true);
      // March was rolled back whole: its row is still in DEFAULT and still holds its slot.
      expect(await partOf(march)).toBe("consultas_default");
      expect(await partOf(april)).toBe("consultas_y2030m04");

      await db.withOwner((c) => c.query("DROP TABLE public.consultas_y2030m03"));
      const again = await job({ now, monthsAhead: 3 });
      expect(again).toMatchObject({ created: ["consultas_y2030m03"], moved: 1, failed: [] });
      expect(await partOf(march)).toBe("consultas_y2030m03");
    },
  );

  it.skipIf(skip)(
    "each month takes its locks up front: lock_timeout, then ACCESS EXCLUSIVE on the parent and DEFAULT",
    async () => {
      const c = await db.owner();
      const sent: string[] = [];
      const recording: Queryable = {
        query: (text, params) => {
          sent.push(text.replace(/\s+/g, " ").trim());
          return c.query(text, params);
        },
      };
      try {
        const report = await ensurePartitions(recording, { now, monthsAhead: 4 });
        expect(report.created).toEqual(["consultas_y2029m09"]);
      } finally {
        c.release();
      }
      const tx = sent.slice(sent.indexOf("BEGIN"), sent.indexOf("COMMIT") + 1);
      const at = (re: RegExp) => tx.findIndex((q) => re.test(q));
      const timeout = at(/^SET LOCAL lock_timeout = '5000ms'$/);
      const lock = at(
        /^LOCK TABLE (ONLY )?public\.consultas, public\.consultas_default IN ACCESS EXCLUSIVE MODE$/,
      );
      const firstRead = at(/FROM public\.consultas\b/);
      expect(timeout).toBeGreaterThan(0);
      expect(lock).toBeGreaterThan(timeout);
      expect(firstRead).toBeGreaterThan(lock);
      expect(tx.filter((q) => /^LOCK /.test(q))).toHaveLength(1);
    },
  );

  // PGlite runs one transaction at a time (dev/neon), so two sessions cannot interleave there.
  itOnPostgres(
    "no deadlock with a transaction that read consultas and then inserts (two sessions)",
    async () => {
      const a = await db.owner();
      const probe = await db.owner();
      try {
        await a.query("BEGIN");
        await a.query(SYSTEM_SQL);
        await a.query("SELECT count(*) FROM consultas");
        const running = job({ now, monthsAhead: 5 });
        // Wait until the job is queued behind session A's lock.
        for (let i = 0; i < 100; i++) {
          const w = await probe.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          if (w.rows[0].n > 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        // Session A writes (a month with no partition yet: its row goes to DEFAULT).
        await a.query(
          `INSERT INTO consultas (paciente_id, fisioterapeuta_id, data_consulta)
           VALUES ($1, $2, '2031-06-10T10:00Z')`,
          [fx.pacA, fx.fisioA],
        );
        await a.query("ROLLBACK");
        const report = await running;
        expect(report).toMatchObject({ created: ["consultas_y2029m10"], failed: [] });
      } finally {
        await a.query("ROLLBACK").catch(() => {});
        a.release();
        probe.release();
      }
    },
  );

  itOnPostgres(
    "a month that cannot get its locks fails after lock_timeout as transient, and the next run creates it",
    async () => {
      const a = await db.owner();
      try {
        await a.query("BEGIN");
        await a.query(SYSTEM_SQL);
        await a.query("SELECT count(*) FROM consultas");
        const started = Date.now();
        const report = await job({ now, monthsAhead: 7, lockTimeoutMs: 300 });
        expect(Date.now() - started).toBeLessThan(5000);
        expect(report.created).toEqual([]);
        expect(report.failed).toEqual([
          { name: "consultas_y2029m12", code: "55P03", transient: true, error: expect.any(String) },
        ]);
      } finally {
        await a.query("ROLLBACK").catch(() => {});
        a.release();
      }
      const again = await job({ now, monthsAhead: 7 });
      expect(again).toMatchObject({ created: ["consultas_y2029m12"], failed: [] });
    },
  );
});
