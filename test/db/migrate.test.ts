import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listMigrations, MIGRATIONS_DIR, MigrationChecksumError, migrate } from "../../db/migrate";
import { testBackends } from "../harness/backends";
import { startTestDb, type TestDb } from "./setup";

const backends = await testBackends();

describe.each(backends)("migrations on $name", ({ name, skip }) => {
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
    expect(again).toEqual({ applied: [], skipped: files });
  });

  it.skipIf(skip)("concurrent runs serialize on the advisory lock", async () => {
    const runs = await Promise.all([
      migrate(db.ownerUrl, { neon: true }),
      migrate(db.ownerUrl, { neon: true }),
    ]);
    expect(runs.flatMap((r) => r.applied)).toEqual([]);
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
