import { execFile } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listMigrations, MIGRATIONS_DIR, MigrationChecksumError, migrate } from "../../db/migrate";
import { monthStart, partitionName } from "../../db/partitions";
import { AUTH_SQL } from "../../db/session";
import { dropDatabase, postgresAdminUrl, testBackends } from "../harness/backends";
import { startTestDb, TEST_SIGNER, type TestDb } from "../harness/db";

const backends = await testBackends();

/** The current UTC month's bounds and partition name, as the planner should see them. */
function currentMonth() {
  const now = new Date();
  return {
    from: monthStart(now).toISOString(),
    to: monthStart(now, 1).toISOString(),
    partition: partitionName(monthStart(now)),
  };
}

/** The consultas partitions an EXPLAIN's text names. */
const partitionsIn = (plan: string) => [...new Set(plan.match(/consultas_(y\d{4}m\d{2}|default)/g))];

describe.each(backends)("migrations on $name", ({ name, skip }) => {
  // Two sessions truly at once exist only on PostgreSQL (PGlite serializes them in one backend
  // session, where an advisory lock is re-entrant): defined there only, not skipped on PGlite.
  const itOnPostgres = (title: string, fn: () => Promise<void>) => {
    if (name === "postgres") it.skipIf(skip)(title, fn);
  };
  let db: TestDb;
  beforeAll(async () => {
    if (!skip) db = await startTestDb(name, "mig");
  });
  afterAll(async () => {
    await db?.close();
  });

  it.skipIf(skip)("records every file, and a second run is a no-op", async () => {
    const files = (await listMigrations()).map((f) => f.name);
    const { rows } = await db.withOwner((c) =>
      c.query("SELECT name, checksum FROM ops._migrations ORDER BY name"),
    );
    expect(rows.map((r) => r.name)).toEqual(files);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
    const again = await migrate(db.ownerUrl, { neon: true });
    expect(again).toEqual({
      applied: [],
      skipped: files,
      partitions: {
        created: [],
        moved: 0,
        failed: [],
        coverageUntil: monthStart(new Date(), 4).toISOString(),
      },
    });
  });

  it.skipIf(skip)("leaves the current month and the next three partitioned, not in DEFAULT", async () => {
    const { from, to, partition } = currentMonth();
    const { rows } = await db.withOwner((c) =>
      c.query(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'public.consultas'::regclass ORDER BY 1`,
      ),
    );
    const now = new Date();
    expect(rows.map((r) => r.relname)).toEqual([
      "consultas_default",
      ...[0, 1, 2, 3].map((i) => partitionName(monthStart(now, i))),
    ]);
    const [plan] = (await db.as({ userId: crypto.randomUUID(), role: "admin" }, (sql) => [
      sql`EXPLAIN SELECT id FROM consultas WHERE data_consulta >= ${from} AND data_consulta < ${to}`,
    ])) as { "QUERY PLAN": string }[][];
    expect(partitionsIn(plan!.map((r) => r["QUERY PLAN"]).join("\n"))).toEqual([partition]);
  });

  itOnPostgres("concurrent runs with a pending, slow migration apply it exactly once", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fisioflow-mig-"));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      // Slow enough that both runs are past reading ops._migrations before the first commits.
      await writeFile(
        join(dir, "9998_slow.sql"),
        "SELECT pg_sleep(0.5);\nCREATE TABLE public.slow_probe (id int);",
      );
      const runs = await Promise.allSettled([
        migrate(db.ownerUrl, { neon: true, dir }),
        migrate(db.ownerUrl, { neon: true, dir }),
      ]);
      const failures = runs.flatMap((r) => (r.status === "rejected" ? [String(r.reason?.message)] : []));
      expect(failures).toEqual([]);
      const applied = runs.flatMap((r) => (r.status === "fulfilled" ? r.value.applied : []));
      expect(applied).toEqual(["9998_slow.sql"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(skip)("refuses an applied file whose content changed, and applies a new one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fisioflow-mig-"));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      await writeFile(join(dir, "9999_extra.sql"), "CREATE TABLE public.extra_probe (id int);");
      expect((await migrate(db.ownerUrl, { neon: true, dir })).applied).toEqual(["9999_extra.sql"]);
      await writeFile(join(dir, "9999_extra.sql"), "CREATE TABLE public.extra_probe (id bigint);");
      const err = await migrate(db.ownerUrl, { neon: true, dir }).catch((e) => e);
      expect(err).toBeInstanceOf(MigrationChecksumError);
      expect(String(err.message)).toMatch(/9999_extra\.sql was changed after it was applied/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(skip)("a failing file rolls back entirely and is not recorded", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fisioflow-mig-"));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      await writeFile(join(dir, "9999_extra.sql"), "CREATE TABLE public.extra_probe (id int);");
      await writeFile(
        join(dir, "9999_zbroken.sql"),
        "CREATE TABLE public.half_done (id int);\nSELECT no_such_fn();",
      );
      const err = await migrate(db.ownerUrl, { neon: true, dir }).catch((e) => e);
      expect(String(err.message)).toMatch(/9999_zbroken\.sql failed/);
      await db.withOwner(async (c) => {
        const t = await c.query("SELECT to_regclass('public.half_done') AS t");
        expect(t.rows[0].t).toBeNull();
        const m = await c.query(
          "SELECT count(*)::int AS n FROM ops._migrations WHERE name = '9999_zbroken.sql'",
        );
        expect(m.rows[0].n).toBe(0);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each(backends.filter((b) => b.name === "postgres"))("npm run db:migrate on $name", ({ skip }) => {
  const database = `fisioflow_cli_${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  const url = () => {
    const u = new URL(postgresAdminUrl());
    u.pathname = `/${database}`;
    return u.toString();
  };
  afterAll(async () => {
    if (!skip) await dropDatabase(database);
  });

  it.skipIf(skip)(
    "into an empty database: a query for this month's consultas plans onto one monthly partition",
    async () => {
      const admin = new pg.Client({ connectionString: postgresAdminUrl() });
      await admin.connect();
      await admin.query(`CREATE DATABASE "${database}"`).finally(() => admin.end());
      // The real command line, with the URL given: plain pg, no local endpoint involved.
      const env = { ...process.env, NEON_WS_PROXY: "", NEON_FETCH_ENDPOINT: "", DATABASE_OWNER_URL: "" };
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["node_modules/tsx/dist/cli.mjs", "scripts/migrate.ts", url()],
        { env, timeout: 60_000 },
      );
      const { from, to, partition } = currentMonth();
      expect(stdout).toContain(`created ${partition}`);
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query("BEGIN");
        await client.query("SET LOCAL ROLE fisioflow_app");
        // An admin's identity, signed with the key db:migrate installed (the local one: .dev.vars).
        await client.query(AUTH_SQL, [await TEST_SIGNER.token(crypto.randomUUID(), "admin")]);
        const { rows } = await client.query(
          "EXPLAIN SELECT id FROM consultas WHERE data_consulta >= $1 AND data_consulta < $2",
          [from, to],
        );
        expect(partitionsIn(rows.map((r) => r["QUERY PLAN"]).join("\n"))).toEqual([partition]);
      } finally {
        await client.query("ROLLBACK").catch(() => {});
        await client.end();
      }
    },
    90_000,
  );
});
