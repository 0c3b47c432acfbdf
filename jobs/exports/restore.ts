/**
 * Restore from an encrypted export (Node only: `npm run export:restore`, tests). Nothing in the
 * worker imports this file. The target must be an empty database; it gets the schema by running
 * the migrations up to the export's schema version, then ALL the data loads in ONE transaction
 * that also verifies every table's row count and SHA-256 against the manifest before it commits.
 * So a tampered, truncated or misplaced object, a wrong key or a checksum mismatch stops the
 * restore with an error and leaves no rows behind.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import type { IdentityKey } from "../../db/identity";
import { listMigrations, MIGRATIONS_DIR, migrate } from "../../db/migrate";
import type { FileBucket } from "../storage/bucket";
import { countRows, orderedSelect, qi, qualified, type TableSpec } from "./copy";
import { decryptStream } from "./crypto";
import { readManifest } from "./export";
import type { Manifest, ManifestTable } from "./manifest";
import { setCopySettingsSql } from "./manifest";

export interface RestoreOptions {
  bucket: FileBucket;
  id: string;
  keys: (kid: string) => Uint8Array | undefined;
  /** The owner role's URL of an EMPTY database (plain postgres://, over TCP). */
  targetUrl: string;
  /** The identity key the restored database will verify (the worker's DB_IDENTITY_KEY). */
  identityKey: IdentityKey;
  log?: (line: string) => void;
}

export interface RestoreReport {
  manifest: Manifest;
  tables: { name: string; rows: number; sha256: string }[];
}

export class RestoreError extends Error {
  override name = "RestoreError";
}

/** Each table's forced RLS and its user triggers' states (tgenabled: O, D, R, A). */
const STATE_SQL = `
SELECT c.oid::regclass::text AS rel, c.relforcerowsecurity AS forced,
       coalesce((SELECT json_agg(json_build_object('name', g.tgname, 'enabled', g.tgenabled))
                   FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal), '[]') AS triggers
  FROM pg_class c WHERE c.oid = ANY($1::regclass[])`;

const TRIGGER_STATE: Record<string, string> = {
  O: "ENABLE",
  D: "DISABLE",
  R: "ENABLE REPLICA",
  A: "ENABLE ALWAYS",
};

/** Schemas an export's tables live in: any table there means the target is not empty. */
const NOT_EMPTY_SQL = `
SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'`;

export async function restoreExport(o: RestoreOptions): Promise<RestoreReport> {
  const log = o.log ?? (() => {});
  const manifest = await readManifest(o.bucket, o.keys, o.id).catch((err: Error) => {
    throw new RestoreError(`export ${o.id}: its manifest does not open: ${err.message}`);
  });
  if (!manifest) throw new RestoreError(`export ${o.id} has no manifest: it is incomplete or does not exist`);
  log(
    `export ${o.id}: ${manifest.tables.length} tables, schema ${manifest.schema_version}, key ${manifest.key_id}`,
  );

  const files = await listMigrations();
  const upTo = files.findIndex((f) => f.name === manifest.schema_version);
  if (upTo < 0)
    throw new RestoreError(
      `export ${o.id} was made at schema ${manifest.schema_version}, which this checkout's db/migrations does not have`,
    );

  const client = new pg.Client({
    connectionString: o.targetUrl,
    application_name: "fisioflow-export-restore",
  });
  await client.connect();
  try {
    const { rows } = await client.query(NOT_EMPTY_SQL);
    if (rows[0].n > 0)
      throw new RestoreError(
        `the target database is not empty (${rows[0].n} tables): restore into a new database (createdb, or a new Neon branch reset to empty)`,
      );
    // The schema as it was when the export was made: the migrations up to its version.
    const dir = await mkdtemp(join(tmpdir(), "fisioflow-restore-"));
    try {
      for (const f of files.slice(0, upTo + 1))
        await copyFile(join(MIGRATIONS_DIR, f.name), join(dir, f.name));
      const m = await migrate(o.targetUrl, { neon: false, dir, identityKey: o.identityKey });
      log(`schema: ${m.applied.length} migrations applied (up to ${manifest.schema_version})`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    try {
      return { manifest, tables: await load(client, manifest, o, log) };
    } catch (err) {
      const e = err as Error;
      throw new RestoreError(
        `${e.message} (the target keeps only the schema the restore migrated, no exported row: drop it and create it again before another try)`,
      );
    }
  } finally {
    await client.end().catch(() => {});
  }
}

async function load(
  client: pg.Client,
  manifest: Manifest,
  o: RestoreOptions,
  log: (line: string) => void,
): Promise<RestoreReport["tables"]> {
  const report: RestoreReport["tables"] = [];
  await client.query("BEGIN");
  try {
    await client.query(setCopySettingsSql(manifest.settings));
    const all = manifest.tables.map((t) => qualified(t)).join(", ");
    // How RLS and the user triggers stand before the load changes them, to put back exactly.
    const state = await client.query(STATE_SQL, [
      manifest.tables.map((t) => `${qi(t.schema)}.${qi(t.table)}`),
    ]);
    for (const t of manifest.tables) {
      // Loading restores rows as they were: no audit rows for the load, no versioning, no
      // append-only guard; RLS is the owner's own (FORCE is put back before the commit).
      await client.query(`ALTER TABLE ${qualified(t)} DISABLE TRIGGER USER, NO FORCE ROW LEVEL SECURITY`);
      for (const p of t.partitions)
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${qi(p.schema)}.${qi(p.name)} PARTITION OF ${qualified(t)} ${p.bound}`,
        );
    }
    // What the migrations seeded (default alert rules, ...) gives way to the export's rows.
    await client.query(`TRUNCATE ${all}`);
    for (const t of manifest.tables) {
      const started = Date.now();
      await loadTable(client, t, o);
      const check = await checksum(client, t);
      if (check.rows !== t.rows || check.sha256 !== t.sha256)
        throw new RestoreError(
          `${t.schema}.${t.table}: loaded ${check.rows} rows with sha256 ${check.sha256.slice(0, 12)}…, ` +
            `the manifest says ${t.rows} rows with ${t.sha256.slice(0, 12)}…; nothing was restored`,
        );
      report.push({ name: `${t.schema}.${t.table}`, rows: check.rows, sha256: check.sha256 });
      log(`${t.schema}.${t.table}: ${check.rows} rows, checksum equal (${Date.now() - started} ms)`);
    }
    for (const t of manifest.tables) await resetSequences(client, t);
    for (const r of state.rows) {
      const actions = (r.triggers as { name: string; enabled: string }[]).map(
        (g) => `${TRIGGER_STATE[g.enabled] ?? "ENABLE"} TRIGGER ${qi(g.name)}`,
      );
      if (r.forced) actions.push("FORCE ROW LEVEL SECURITY");
      if (actions.length) await client.query(`ALTER TABLE ${r.rel} ${actions.join(", ")}`);
    }
    await client.query("COMMIT");
    return report;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

async function loadTable(client: pg.Client, t: ManifestTable, o: RestoreOptions) {
  const obj = await o.bucket.get(t.object);
  if (!obj) throw new RestoreError(`export ${o.id} is missing its object for ${t.schema}.${t.table}`);
  const compressed = obj.body.pipeThrough(decryptStream(o.keys, t.object));
  const sink = client.query(copyFrom(`COPY ${qualified(t)} (${t.columns.map(qi).join(", ")}) FROM STDIN`));
  try {
    // node:zlib, not the web DecompressionStream: Node's (22) kept memory growing with its output
    // until the stream ended, about the size of the table (bench/results/exports.md).
    await pipeline(Readable.fromWeb(compressed as never), createGunzip(), sink);
  } catch (err) {
    // The transaction is aborted either way; say which table and why, never the data.
    const e = err as Error & { code?: string };
    throw new RestoreError(
      `${t.schema}.${t.table}: ${e.name === "ExportIntegrityError" ? "" : `${e.code ?? e.name} `}${e.message}; nothing was restored`,
    );
  }
}

/** The table's COPY text in primary-key order, hashed as the export hashed it. */
async function checksum(client: pg.Client, t: ManifestTable): Promise<{ rows: number; sha256: string }> {
  const spec: TableSpec = {
    schema: t.schema,
    table: t.table,
    columns: t.columns,
    primaryKey: t.primary_key,
    primaryKeyTypes: t.primary_key_types,
  };
  const hash = createHash("sha256");
  let rows = 0;
  await pipeline(
    client.query(copyTo(`COPY (${orderedSelect(spec)}) TO STDOUT`)),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        rows += countRows(chunk);
        done();
      },
    }),
  );
  return { rows, sha256: hash.digest("hex") };
}

/** Sequences (identity and serial columns) continue after the restored rows. */
async function resetSequences(client: pg.Client, t: ManifestTable) {
  const { rows } = await client.query(
    `SELECT a.attname AS col, pg_get_serial_sequence($1, a.attname) AS seq
       FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
    [qualified(t)],
  );
  for (const r of rows) {
    if (!r.seq) continue;
    await client.query(
      `SELECT setval($1, coalesce((SELECT max(${qi(r.col)}) FROM ${qualified(t)}), 1), (SELECT count(*) > 0 FROM ${qualified(t)}))`,
      [r.seq],
    );
  }
}
