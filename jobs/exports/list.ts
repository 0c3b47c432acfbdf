import { type RetentionPolicy, retainByTime } from "../backups/retention";
import type { FileBucket } from "../storage/bucket";
import { readHeader } from "./crypto";
import { openManifest } from "./export";
import { EXPORTS_PREFIX, exportTime, type Manifest, manifestKey } from "./manifest";

export interface ExportSummary {
  id: string;
  created_at: string;
  /**
   * complete: its manifest is there and opens (or is under another key); incomplete: a run that
   * failed or is still going; unreadable: its manifest does not decrypt or parse with the key
   * of that id (tampered, or the key was changed under the same id).
   */
  status: "complete" | "incomplete" | "unreadable";
  /** From the manifest object's header (readable without the key). */
  key_id: string | null;
  objects: number;
  bytes: number;
  /** From the decrypted manifest; null when incomplete or the key is not this worker's. */
  manifest:
    | (Pick<Manifest, "schema_version" | "started_at" | "finished_at"> & {
        tables: number;
        rows: number;
      })
    | null;
}

/** Every page of a listing (R2 lists at most 1000 keys a call). */
async function* pages(bucket: FileBucket, options: { prefix: string; delimiter?: string }) {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ ...options, cursor });
    yield page;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** Every export folder in the bucket (ids only), oldest first. */
export async function exportIds(bucket: FileBucket): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of pages(bucket, { prefix: EXPORTS_PREFIX, delimiter: "/" }))
    for (const p of page.delimitedPrefixes) {
      const id = p.slice(EXPORTS_PREFIX.length).replace(/\/$/, "");
      if (exportTime(id)) ids.push(id);
    }
  return ids.sort();
}

async function objectsOf(
  bucket: FileBucket,
  id: string,
): Promise<{ key: string; size: number; uploaded: Date }[]> {
  const out: { key: string; size: number; uploaded: Date }[] = [];
  for await (const page of pages(bucket, { prefix: `${EXPORTS_PREFIX}${id}/` }))
    out.push(...page.objects.map((o) => ({ key: o.key, size: o.size, uploaded: new Date(o.uploaded) })));
  return out;
}

/** The exports in the bucket, newest first, with what their manifests say when `keys` open them. */
export async function listExports(
  bucket: FileBucket,
  keys: (kid: string) => Uint8Array | undefined,
): Promise<ExportSummary[]> {
  const ids = (await exportIds(bucket)).reverse();
  return Promise.all(
    ids.map(async (id): Promise<ExportSummary> => {
      const objects = await objectsOf(bucket, id);
      const manifestObject = await bucket.get(manifestKey(id));
      let keyId: string | null = null;
      let manifest: Manifest | null = null;
      let unreadable = false;
      if (manifestObject) {
        // One download: the header says the key id, the same bytes then decrypt.
        const sealed = new Uint8Array(await manifestObject.arrayBuffer());
        try {
          keyId = readHeader(sealed)?.header.kid ?? null;
          if (keyId && keys(keyId)) manifest = await openManifest(sealed, keys, id);
        } catch {
          unreadable = true;
        }
      }
      return {
        id,
        created_at: exportTime(id)!.toISOString(),
        status: unreadable ? "unreadable" : manifestObject ? "complete" : "incomplete",
        key_id: keyId,
        objects: objects.length,
        bytes: objects.reduce((n, o) => n + o.size, 0),
        manifest: manifest && {
          schema_version: manifest.schema_version,
          started_at: manifest.started_at,
          finished_at: manifest.finished_at,
          tables: manifest.tables.length,
          rows: manifest.tables.reduce((n, t) => n + t.rows, 0),
        },
      };
    }),
  );
}

/** Incomplete exports whose last object is older than this are a failed run's leftovers. */
const INCOMPLETE_GRACE_MS = 24 * 3600_000;

/**
 * Retention, as for backup branches (jobs/backups/retention.ts): of the complete exports, the
 * newest of each of the last `daily` days and `weekly` ISO weeks stay; the rest, and incomplete
 * exports whose last object is a day old, are deleted object by object. The export job calls it
 * under its lock, so it never races a run. Returns the ids deleted.
 */
export async function applyExportRetention(
  bucket: FileBucket,
  policy: RetentionPolicy,
  now: Date,
): Promise<string[]> {
  const ids = await exportIds(bucket);
  const complete: string[] = [];
  const stale: string[] = [];
  for (const id of ids) {
    if (await bucket.head(manifestKey(id))) complete.push(id);
    else {
      // By when its objects were written, not by its name: a run for an old slot (a replay, a
      // backfill) may be writing right now.
      const last = Math.max(0, ...(await objectsOf(bucket, id)).map((o) => o.uploaded.getTime()));
      if (now.getTime() - last > INCOMPLETE_GRACE_MS) stale.push(id);
    }
  }
  const plan = retainByTime(
    complete.map((id) => ({ name: id, at: exportTime(id) })),
    policy,
  );
  const victims = [...plan.delete, ...stale];
  for (const id of victims) {
    // The manifest first: a half-deleted export then reads as incomplete, never as restorable.
    await bucket.delete(manifestKey(id));
    const keys = (await objectsOf(bucket, id)).map((o) => o.key);
    for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
  }
  return victims;
}
