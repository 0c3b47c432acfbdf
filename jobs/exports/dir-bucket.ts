/**
 * An export downloaded to a directory (`wrangler r2 object get`, rclone or `aws s3 sync` against
 * R2's S3 API, laid out by key), read as a bucket by the restore CLI: get and head only.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import type { FileBucket, StoredObject, StoredObjectBody } from "../storage/bucket";

export function directoryBucket(root: string): FileBucket {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const p = resolve(join(base, key));
    if (!p.startsWith(base + sep)) throw new Error(`object key ${key} leaves the directory`);
    return p;
  };
  const head = async (key: string): Promise<StoredObject | null> => {
    const s = await stat(pathOf(key)).catch(() => null);
    return s?.isFile() ? { key, size: s.size, etag: String(s.mtimeMs), uploaded: s.mtime } : null;
  };
  const unsupported = () => Promise.reject(new Error("a directory export is read-only"));
  return {
    head,
    async get(key): Promise<StoredObjectBody | null> {
      const h = await head(key);
      if (!h) return null;
      const body = Readable.toWeb(createReadStream(pathOf(key))) as unknown as ReadableStream<Uint8Array>;
      return { ...h, body, arrayBuffer: () => new Response(body).arrayBuffer() };
    },
    put: unsupported,
    delete: unsupported,
    list: unsupported,
    createMultipartUpload: unsupported,
  };
}
