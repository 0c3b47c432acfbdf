/**
 * The encrypted export job and its restore, on both backends, with miniflare's R2: a seeded
 * database exported (small pages, so tables span many) and restored into an empty database with
 * every count and checksum equal, the source's rows all there (RLS hid none from the export),
 * nothing readable in the bucket, a rerun of the slot doing nothing, a tampered object stopping
 * the restore with a clear error and no rows loaded, a non-empty target refused, retention, and
 * GET /v1/ops/exports for admins only.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { Pool } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openClient } from "../../db/owner-client";
import { seed } from "../../db/seed";
import { LOCAL } from "../../dev/config";
import { configureNeonForLocal } from "../../dev/neon/client";
import { createApp } from "../../functions/app";
import { copyOut, TABLES_SQL, tableSpecs } from "../../jobs/exports/copy";
import { keyLookup, parseExportKey } from "../../jobs/exports/crypto";
import { readManifest } from "../../jobs/exports/export";
import { exportsJob } from "../../jobs/exports/index";
import { applyExportRetention, exportIds } from "../../jobs/exports/list";
import { manifestKey, tableKey } from "../../jobs/exports/manifest";
import { RestoreError, restoreExport } from "../../jobs/exports/restore";
import type { FileBucket } from "../../jobs/storage/bucket";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";

const IN_PROCESS_SECRET = IN_PROCESS_ENV.JWT_SECRET!;

import { tokenFor } from "../harness/auth";
import { postgresAdminUrl, testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import { jobContext } from "../harness/job-context";
import { signQStash } from "../harness/qstash";
import { startR2, type TestR2 } from "../harness/r2";

const backends = await testBackends();
const KEY = parseExportKey("test", Buffer.alloc(32, 7).toString("base64"));
const keys = keyLookup(KEY);
const NOW = new Date("2026-11-29T04:00:30Z");
const ID = "2026-11-29T04-00-00Z";

/** Row counts of every exported table, as the database's superuser (postgres) or owner + 'system'. */
async function countsOf(url: string, tables: { schema: string; table: string }[]) {
  const { client, close } = await openClient(url, false);
  try {
    await client.query("BEGIN");
    await client.query("SELECT set_config('app.identity', private.token_sistema(), true)").catch(() => {});
    const out: Record<string, number> = {};
    for (const t of tables)
      out[`${t.schema}.${t.table}`] = Number(
        (await client.query(`SELECT count(*) AS n FROM "${t.schema}"."${t.table}"`)).rows[0]!.n,
      );
    await client.query("ROLLBACK");
    return out;
  } finally {
    await close();
  }
}

/** Each table's forced RLS and its user triggers' states, by name. */
async function securityState(url: string) {
  const { client, close } = await openClient(url, false);
  try {
    const { rows } = await client.query(
      `SELECT n.nspname || '.' || c.relname AS rel, c.relforcerowsecurity AS forced,
              coalesce((SELECT string_agg(g.tgname || ':' || g.tgenabled::text, ',' ORDER BY g.tgname)
                          FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal), '') AS triggers
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'audit', 'analytics', 'migration', 'private')
        ORDER BY 1`,
    );
    return rows;
  } finally {
    await close();
  }
}

async function bytesOf(bucket: FileBucket, key: string) {
  const o = await bucket.get(key);
  return new Uint8Array(await o!.arrayBuffer());
}

describe.each(backends)("encrypted exports on $name", ({ name, skip }) => {
  let source: TestEndpoint;
  let r2: TestR2;
  const targets: TestEndpoint[] = [];
  const emptyTarget = async () => {
    const t = await startTestEndpoint(name, { prefix: "export_target", migrate: false });
    targets.push(t);
    // Starting an endpoint routes the driver to it: the source's Pool must keep reaching the source.
    configureNeonForLocal(source.endpoint);
    return t;
  };
  const ctx = (over = {}) =>
    jobContext({ now: NOW, ownerUrl: source.ownerUrl, files: r2.bucket, exportKey: KEY, ...over });

  beforeAll(async () => {
    if (skip) return;
    [source, r2] = await Promise.all([
      startTestEndpoint(name, { prefix: "export_src", migrate: true }),
      startR2(),
    ]);
    const { client, close } = await openClient(source.ownerUrl, false);
    try {
      await seed(client, { pacientes: 40, consultasPorPaciente: 4, now: NOW });
    } finally {
      await close();
    }
  });
  afterAll(async () => {
    for (const t of targets) await t.close();
    await r2?.close();
    await source?.close();
  });

  it.skipIf(skip)(
    "exports every table, encrypted, and a restore reproduces every count and checksum",
    async () => {
      const result = await exportsJob.run(ctx(), exportsJob.payload.parse({ page_bytes: 4096 }));
      expect(result).toMatchObject({ status: "done", id: ID });
      const manifest = (await readManifest(r2.bucket, keys, ID))!;
      const byName = Object.fromEntries(manifest.tables.map((t) => [`${t.schema}.${t.table}`, t]));
      expect(byName["public.pacientes"]!.rows).toBe(40);
      expect(byName["public.consultas"]!.rows).toBeGreaterThan(40);
      expect(byName["audit.log"]!.rows).toBeGreaterThan(0);
      expect(byName["public.consultas"]!.partitions.length).toBeGreaterThan(0);
      expect(manifest.schema_version).toMatch(/^\d{4}_.*\.sql$/);
      expect(manifest.key_id).toBe("test");

      // The export saw every row: RLS hid nothing from its 'system' identity.
      const truth =
        name === "postgres"
          ? await countsOf(postgresAdminUrl().replace(/\/[^/]*$/, `/${source.database}`), manifest.tables)
          : await countsOf(source.ownerUrl, manifest.tables);
      for (const [table, n] of Object.entries(truth)) expect(byName[table]!.rows, table).toBe(n);

      // Nothing in the bucket is readable: every object is in the encrypted format, and no
      // paciente's name or email appears in any of them.
      const { client, close } = await openClient(source.ownerUrl, false);
      const sample = await (async () => {
        try {
          await client.query("BEGIN");
          await client.query("SELECT set_config('app.identity', private.token_sistema(), true)");
          return (await client.query("SELECT nome, email FROM public.pacientes LIMIT 3")).rows;
        } finally {
          await client.query("ROLLBACK");
          await close();
        }
      })();
      expect(sample).toHaveLength(3);
      const listed = await r2.bucket.list({ prefix: `exports/${ID}/` });
      expect(listed.objects.length).toBe(manifest.tables.length + 1);
      for (const o of listed.objects) {
        const bytes = Buffer.from(await bytesOf(r2.bucket, o.key));
        expect(bytes.subarray(0, 4).toString(), o.key).toBe("FFX1");
        for (const row of sample) {
          expect(bytes.includes(String(row.nome)), o.key).toBe(false);
          expect(bytes.includes(String(row.email)), o.key).toBe(false);
        }
      }

      const target = await emptyTarget();
      const report = await restoreExport({
        bucket: r2.bucket,
        id: ID,
        keys,
        targetUrl: target.ownerUrl,
        identityKey: LOCAL.identityKey,
      });
      expect(report.tables.map((t) => [t.name, t.rows, t.sha256])).toEqual(
        manifest.tables.map((t) => [`${t.schema}.${t.table}`, t.rows, t.sha256]),
      );
      // Counted again afterwards, outside the restore: everything committed, nothing added by triggers.
      expect(await countsOf(target.ownerUrl, manifest.tables)).toEqual(
        Object.fromEntries(manifest.tables.map((t) => [`${t.schema}.${t.table}`, t.rows])),
      );
      // RLS forced and every trigger in the state it had before the load, partitions included.
      expect(await securityState(target.ownerUrl)).toEqual(await securityState(source.ownerUrl));
      expect(byName["private.consultas_agenda"]!.rows).toBeGreaterThan(0); // the booking ledger came too
      // The restored database enforces what the source did: a second paciente with an existing
      // email is refused by the restored email keys and the re-enabled triggers.
      const { client: t, close: closeT } = await openClient(target.ownerUrl, false);
      try {
        await t.query("BEGIN");
        await t.query("SELECT set_config('app.identity', private.token_sistema(), true)");
        const dup = await t
          .query(
            `INSERT INTO pacientes (id, nome, email, fisioterapeuta_id)
             SELECT gen_random_uuid(), 'Outra Pessoa', email, fisioterapeuta_id FROM pacientes WHERE email IS NOT NULL LIMIT 1`,
          )
          .catch((e: { code?: string }) => e);
        expect((dup as { code?: string }).code).toBe("23505");
      } finally {
        await t.query("ROLLBACK").catch(() => {});
        await closeT();
      }
    },
  );

  it.skipIf(skip)(
    "a COPY that fails or outgrows its page fails the page, and the session goes on",
    async () => {
      const pool = new Pool({ connectionString: source.ownerUrl, max: 1 });
      const client = await pool.connect();
      try {
        await expect(
          copyOut(client, "COPY (SELECT 1 / (g - g) FROM generate_series(1, 3) g) TO STDOUT"),
        ).rejects.toThrow(/division by zero/);
        await expect(
          copyOut(client, "COPY (SELECT repeat('x', 1000) FROM generate_series(1, 100)) TO STDOUT", 10_000),
        ).rejects.toThrow(/passed 10000 bytes/);
        expect((await client.query("SELECT 41 + 1 AS n")).rows[0].n).toBe(42);
        // A table whose forced RLS has no SELECT policy for the exporting role is refused, not skipped.
        await client.query("BEGIN");
        await client.query("CREATE TABLE public.sem_politica (id int PRIMARY KEY)");
        await client.query(
          "ALTER TABLE public.sem_politica ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY",
        );
        const rows = (await client.query(TABLES_SQL)).rows;
        expect(() => tableSpecs(rows)).toThrow(
          /public\.sem_politica forces row level security with no SELECT policy/,
        );
      } finally {
        await client.query("ROLLBACK").catch(() => {});
        client.release();
        await pool.end();
      }
    },
  );

  it.skipIf(skip)("an R2 failure fails the run with R2's error, leaving no manifest", async () => {
    const failing = (what: "create" | "part"): FileBucket => ({
      head: (k) => r2.bucket.head(k),
      get: (k) => r2.bucket.get(k),
      put: (k, v, o) => r2.bucket.put(k, v, o),
      list: (o) => r2.bucket.list(o),
      delete: (k) => r2.bucket.delete(k),
      async createMultipartUpload(key, options) {
        if (what === "create") throw new Error("R2 is down (create)");
        const upload = await r2.bucket.createMultipartUpload(key, options);
        return {
          key: upload.key,
          uploadId: upload.uploadId,
          uploadPart: () => Promise.reject(new Error("R2 is down (part)")),
          complete: (parts) => upload.complete(parts),
          abort: () => upload.abort(),
        };
      },
    });
    for (const [what, id] of [
      ["create", "2026-11-29T01-00-00Z"],
      ["part", "2026-11-29T02-00-00Z"],
    ] as const) {
      const at = `${id.slice(0, 13)}:00:00Z`;
      await expect(exportsJob.run(ctx({ files: failing(what) }), { at })).rejects.toThrow(
        `R2 is down (${what})`,
      );
      expect(await r2.bucket.head(manifestKey(id))).toBeNull();
    }
  });

  it.skipIf(skip)("a rerun of the same slot finds the export complete and writes nothing", async () => {
    const before = (await r2.bucket.list({ prefix: `exports/${ID}/` })).objects.map((o) => o.etag).sort();
    const again = await exportsJob.run(ctx(), exportsJob.payload.parse({}));
    expect(again).toMatchObject({ status: "skipped", reason: "export already complete" });
    const after = (await r2.bucket.list({ prefix: `exports/${ID}/` })).objects.map((o) => o.etag).sort();
    expect(after).toEqual(before);
  });

  it.skipIf(skip)("a tampered object stops the restore with a clear error and loads nothing", async () => {
    const manifest = (await readManifest(r2.bucket, keys, ID))!;
    const victim = manifest.tables.find((t) => t.table === "prontuarios")!;
    const key = tableKey(ID, victim.schema, victim.table);
    const original = await bytesOf(r2.bucket, key);
    const tampered = original.slice();
    tampered[tampered.length - 20]! ^= 0x01;
    await r2.bucket.put(key, tampered);
    try {
      const target = await emptyTarget();
      const err = await restoreExport({
        bucket: r2.bucket,
        id: ID,
        keys,
        targetUrl: target.ownerUrl,
        identityKey: LOCAL.identityKey,
      }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(RestoreError);
      expect((err as Error).message).toMatch(
        /public\.prontuarios: .*does not authenticate.*nothing was restored/,
      );
      const counts = await countsOf(target.ownerUrl, manifest.tables);
      // Tables the migrations seed (default alert rules) keep only that seed: no exported row loaded.
      for (const t of manifest.tables)
        if (!t.table.startsWith("alertas_regras")) expect(counts[`${t.schema}.${t.table}`], t.table).toBe(0);

      // A wrong key fails at the manifest, before the target is touched.
      const other = await emptyTarget();
      const wrongKey = await restoreExport({
        bucket: r2.bucket,
        id: ID,
        keys: () => Buffer.alloc(32, 9),
        targetUrl: other.ownerUrl,
        identityKey: LOCAL.identityKey,
      }).catch((e: Error) => e);
      expect((wrongKey as Error).message).toMatch(/manifest does not open: .*does not authenticate/);

      // A target that is not empty is refused.
      const full = await restoreExport({
        bucket: r2.bucket,
        id: ID,
        keys,
        targetUrl: source.ownerUrl,
        identityKey: LOCAL.identityKey,
      }).catch((e: Error) => e);
      expect((full as Error).message).toMatch(/target database is not empty/);
    } finally {
      await r2.bucket.put(key, original);
    }
  });

  it.skipIf(skip)(
    "npm run export:restore restores a downloaded export and says what it verified",
    async () => {
      // The export as an operator downloads it from R2: its objects in a directory, by key.
      const dir = await mkdtemp(join(tmpdir(), "export-cli-"));
      try {
        for (const o of (await r2.bucket.list({ prefix: `exports/${ID}/` })).objects) {
          await mkdir(dirname(join(dir, o.key)), { recursive: true });
          await writeFile(join(dir, o.key), await bytesOf(r2.bucket, o.key));
        }
        const target = await emptyTarget();
        const env = {
          ...process.env,
          EXPORT_KEY: Buffer.from(KEY.key).toString("base64"),
          EXPORT_KEY_ID: KEY.id,
          DB_IDENTITY_KEY_ID: LOCAL.identityKey.kid,
          DB_IDENTITY_KEY: LOCAL.identityKey.secret,
        };
        const cli = (args: string[]) =>
          promisify(execFile)(
            process.execPath,
            ["node_modules/tsx/dist/cli.mjs", "scripts/export-restore.ts", ...args],
            {
              env,
              timeout: 120_000,
            },
          );
        const ok = await cli(["--export", ID, "--target", target.ownerUrl, "--dir", dir]);
        expect(ok.stdout).toMatch(
          new RegExp(
            `restored export ${ID}: \\d+ tables, \\d+ rows, every count and checksum equal to the manifest`,
          ),
        );
        expect(ok.stderr).toContain("public.pacientes: 40 rows, checksum equal");
        const again = await cli(["--export", ID, "--target", target.ownerUrl, "--dir", dir]).catch(
          (e: { code: number; stderr: string }) => e,
        );
        expect(again).toMatchObject({ code: 1 });
        expect((again as { stderr: string }).stderr).toMatch(
          /export:restore failed: the target database is not empty/,
        );
        const usage = await cli(["--export", ID]).catch((e: { code: number; stderr: string }) => e);
        expect(usage).toMatchObject({ code: 2 });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it.skipIf(skip)("retention keeps the newest per day and week, drops stale incomplete exports", async () => {
    const bucket = r2.bucket;
    // Ten days of (fake) complete exports at 04:00, 18 to 27 Nov, and an incomplete one two days old.
    const fakeIds = Array.from(
      { length: 10 },
      (_, i) => `2026-11-${String(18 + i).padStart(2, "0")}T04-00-00Z`,
    );
    for (const id of fakeIds) {
      await bucket.put(manifestKey(id), "x");
      await bucket.put(`exports/${id}/tables/public.t.copy.gz.enc`, "y");
    }
    await bucket.put("exports/2026-11-27T05-00-00Z/tables/public.t.copy.gz.enc", "partial");
    // Two days on (an incomplete export counts as stale by when its objects were written).
    const deleted = await applyExportRetention(
      bucket,
      { daily: 3, weekly: 2 },
      new Date(Date.now() + 2 * 86_400_000),
    );
    const left = await exportIds(bucket);
    // Kept: the 3 newest days with an export (the real one of the 29th, 27, 26) and the newest of
    // 2 ISO weeks (week of Monday 23 Nov: the 29th; week of Monday 16 Nov: the 22nd).
    expect(left).toEqual(["2026-11-22T04-00-00Z", "2026-11-26T04-00-00Z", "2026-11-27T04-00-00Z", ID]);
    expect(deleted).toContain("2026-11-27T05-00-00Z");
    expect((await bucket.list({ prefix: "exports/2026-11-18T04-00-00Z/" })).objects).toHaveLength(0);
  });

  it.skipIf(skip)("runs as the worker's job: QStash's delivery, the FILES binding, EXPORT_KEY", async () => {
    const app = createApp();
    const url = "http://worker.internal/jobs/exports";
    const body = JSON.stringify({ at: "2026-11-28T04:00:00Z" });
    const res = await requestApp(
      app,
      url,
      {
        method: "POST",
        body,
        headers: {
          "upstash-signature": await signQStash(IN_PROCESS_ENV.QSTASH_CURRENT_SIGNING_KEY!, url, body),
          "upstash-message-id": `msg_${crypto.randomUUID()}`,
        },
      },
      {
        FILES: r2.bucket,
        EXPORT_KEY: Buffer.from(KEY.key).toString("base64"),
        EXPORT_KEY_ID: KEY.id,
        DATABASE_OWNER_URL: source.ownerUrl,
        NEON_FETCH_ENDPOINT: source.endpoint.sqlUrl,
        NEON_WS_PROXY: source.endpoint.wsProxy,
      },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "done", id: "2026-11-28T04-00-00Z" });
    const manifest = await readManifest(r2.bucket, keys, "2026-11-28T04-00-00Z");
    expect(manifest?.tables.find((t) => t.table === "pacientes")?.rows).toBe(40);
  });

  it.skipIf(skip)("GET /v1/ops/exports lists them for admins only", async () => {
    const app = createApp();
    const env = {
      FILES: r2.bucket,
      EXPORT_KEY: Buffer.from(KEY.key).toString("base64"),
      EXPORT_KEY_ID: KEY.id,
    };
    const admin = await tokenFor({ userId: crypto.randomUUID(), role: "admin" }, IN_PROCESS_SECRET);
    const res = await requestApp(
      app,
      "/v1/ops/exports",
      { headers: { authorization: `Bearer ${admin}` } },
      env,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      data: { id: string; status: string; manifest: { rows: number } | null }[];
    };
    const real = body.data.find((e) => e.id === ID)!;
    expect(real.status).toBe("complete");
    expect(real.manifest!.rows).toBeGreaterThan(0);
    expect(body.data[0]!.id).toBe(ID); // newest first
    const fisio = await tokenFor({ userId: crypto.randomUUID(), role: "fisioterapeuta" }, IN_PROCESS_SECRET);
    const denied = await requestApp(
      app,
      "/v1/ops/exports",
      { headers: { authorization: `Bearer ${fisio}` } },
      env,
    );
    expect(denied.status).toBe(403);
  });
});

describe("the export job without its configuration", () => {
  it("skips without a bucket or a key, and refuses a slot in the future", async () => {
    const now = new Date();
    const base = { now, ownerUrl: "postgresql://x@127.0.0.1:1/x" };
    expect(await exportsJob.run(jobContext({ ...base, files: null, exportKey: KEY }), {})).toMatchObject({
      status: "skipped",
      reason: "no R2 bucket is bound (FILES)",
    });
    const bucket = {} as FileBucket;
    expect(await exportsJob.run(jobContext({ ...base, files: bucket, exportKey: null }), {})).toMatchObject({
      status: "skipped",
      reason: "no export key is configured (EXPORT_KEY)",
    });
    await expect(
      exportsJob.run(jobContext({ ...base, files: bucket, exportKey: KEY }), {
        at: new Date(now.getTime() + 3600_000).toISOString(),
      }),
    ).rejects.toThrow(/time to come/);
  });
});
