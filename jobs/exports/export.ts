import type { PoolClient } from "@neondatabase/serverless";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { SYSTEM_SQL } from "../../db/session";
import type { FileBucket } from "../storage/bucket";
import type { JobLogger } from "../types";
import { copyTable, countRows, TABLES_SQL, type TableSpec, tableSpecs } from "./copy";
import { decryptStream, type ExportKey, encryptStream } from "./crypto";
import {
  COPY_SETTINGS,
  EXPORT_FORMAT,
  Manifest,
  type ManifestTable,
  manifestKey,
  setCopySettingsSql,
  tableKey,
} from "./manifest";
import { uploadStream } from "./upload";

export interface ExportOptions {
  bucket: FileBucket;
  key: ExportKey;
  id: string;
  logger: JobLogger;
  clock: { now(): Date };
  /** Bytes of COPY output per page (memory holds one page); tests make it small. */
  pageBytes?: number;
  /** Multipart part size (R2: at least 5 MiB). */
  partBytes?: number;
}

const PARTITIONS_SQL = `
SELECT n.nspname AS schema, c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE i.inhparent = to_regclass($1)
 ORDER BY 1, 2`;

/**
 * One export of every table (copy.ts TABLES_SQL) in one REPEATABLE READ snapshot, on `client` (an
 * owner connection; the 'system' identity makes every row visible through RLS). Each table's COPY
 * output is hashed, gzip-compressed, encrypted and uploaded as it is read; the manifest is
 * written last, so an export is complete exactly when its manifest exists.
 */
export async function exportTables(client: PoolClient, opts: ExportOptions): Promise<Manifest> {
  const started = opts.clock.now();
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    await client.query(setCopySettingsSql());
    await client.query(SYSTEM_SQL);
    const version = await client.query("SELECT max(name) AS v FROM ops._migrations");
    const schemaVersion = version.rows[0]?.v;
    if (!schemaVersion) throw new Error("the database has no migrations applied");
    const specs = tableSpecs((await client.query(TABLES_SQL)).rows);
    const tables: ManifestTable[] = [];
    for (const spec of specs) {
      const t0 = Date.now();
      const entry = await exportTable(client, spec, opts);
      tables.push(entry);
      opts.logger.info("export_table", {
        table: `${spec.schema}.${spec.table}`,
        rows: entry.rows,
        plain_bytes: entry.plain_bytes,
        object_bytes: entry.object_bytes,
        ms: Date.now() - t0,
      });
    }
    await client.query("COMMIT");
    const manifest: Manifest = {
      format: EXPORT_FORMAT,
      id: opts.id,
      started_at: started.toISOString(),
      finished_at: opts.clock.now().toISOString(),
      schema_version: String(schemaVersion),
      key_id: opts.key.id,
      settings: COPY_SETTINGS,
      tables,
    };
    await putEncrypted(
      opts.bucket,
      opts.key,
      manifestKey(opts.id),
      new TextEncoder().encode(JSON.stringify(manifest)),
    );
    return manifest;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

async function exportTable(client: PoolClient, spec: TableSpec, opts: ExportOptions): Promise<ManifestTable> {
  const object = tableKey(opts.id, spec.schema, spec.table);
  const partitions = (await client.query(PARTITIONS_SQL, [`"${spec.schema}"."${spec.table}"`])).rows.map(
    (r) => ({
      schema: String(r.schema),
      name: String(r.name),
      bound: String(r.bound),
    }),
  );
  // Incremental SHA-256 in plain JS (about 200 MiB/s): WebCrypto has no incremental digest, and
  // node:crypto is not on every edge runtime the app runs on (Vercel Edge).
  const hash = sha256.create();
  let rows = 0;
  let plainBytes = 0;
  const gzip = new CompressionStream("gzip");
  const upload = uploadStream(
    opts.bucket,
    object,
    gzip.readable.pipeThrough(encryptStream(opts.key, object)),
    { "export-key-id": opts.key.id, "export-format": EXPORT_FORMAT },
    opts.partBytes,
  );
  // Awaited below. A failed upload cancels its stream, so the writes below fail too.
  upload.catch(() => {});
  const writer = gzip.writable.getWriter();
  try {
    for await (const chunks of copyTable(client, spec, opts.pageBytes)) {
      // One write per page, not per row: CompressionStream's cost is per chunk (3× slower by rows).
      const page = concat(chunks);
      hash.update(page);
      rows += countRows(page);
      plainBytes += page.length;
      await writer.write(page);
    }
    await writer.close();
  } catch (err) {
    await writer.abort(err).catch(() => {});
    // The upload's own error when it failed first (the writes then only saw a cancelled stream).
    const uploadError = await upload.then(
      () => null,
      (e: unknown) => e,
    );
    throw uploadError ?? err;
  }
  const objectBytes = await upload;
  return {
    schema: spec.schema,
    table: spec.table,
    columns: spec.columns,
    primary_key: spec.primaryKey,
    primary_key_types: spec.primaryKeyTypes,
    partitions,
    rows,
    sha256: bytesToHex(hash.digest()),
    plain_bytes: plainBytes,
    object,
    object_bytes: objectBytes,
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A small object (the manifest), encrypted like the tables (nothing reaches R2 in the clear). */
export async function putEncrypted(bucket: FileBucket, key: ExportKey, name: string, bytes: Uint8Array) {
  const sealed = await new Response(
    new Blob([bytes]).stream().pipeThrough(encryptStream(key, name)),
  ).arrayBuffer();
  await bucket.put(name, sealed, {
    httpMetadata: { contentType: "application/octet-stream" },
    customMetadata: { "export-key-id": key.id, "export-format": EXPORT_FORMAT },
  });
}

/** An export's manifest, decrypted and checked; null when the export has none (incomplete). */
export async function readManifest(
  bucket: FileBucket,
  keys: (kid: string) => Uint8Array | undefined,
  id: string,
): Promise<Manifest | null> {
  const obj = await bucket.get(manifestKey(id));
  return obj ? openManifest(obj.body, keys, id) : null;
}

/** A manifest object's bytes (or stream), decrypted and checked against the export it names. */
export async function openManifest(
  sealed: ReadableStream<Uint8Array> | Uint8Array,
  keys: (kid: string) => Uint8Array | undefined,
  id: string,
): Promise<Manifest> {
  const stream = sealed instanceof Uint8Array ? new Blob([sealed]).stream() : sealed;
  const text = await new Response(stream.pipeThrough(decryptStream(keys, manifestKey(id)))).text();
  const manifest = Manifest.parse(JSON.parse(text));
  if (manifest.id !== id) throw new Error(`manifest of ${id} names export ${manifest.id}`);
  return manifest;
}
