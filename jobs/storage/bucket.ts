/**
 * The part of Workers' R2 binding (`R2Bucket`) this project uses: prontuario attachments and the
 * encrypted exports. Production binds a real R2 bucket as FILES (wrangler.toml); `wrangler dev`
 * and the tests bind miniflare's R2, which implements the same API. Written out here because the
 * project type-checks against Node's types, not @cloudflare/workers-types' globals.
 */

export interface StoredObject {
  key: string;
  size: number;
  etag: string;
  uploaded: Date;
  httpMetadata?: { contentType?: string };
  customMetadata?: Record<string, string>;
}

export interface StoredObjectBody extends StoredObject {
  body: ReadableStream<Uint8Array>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface PutOptions {
  httpMetadata?: { contentType?: string };
  customMetadata?: Record<string, string>;
  /** R2 checks the bytes it stored against this digest (hex or raw) and refuses the put otherwise. */
  sha256?: string | ArrayBuffer;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
}

export interface MultipartUpload {
  readonly key: string;
  readonly uploadId: string;
  /** R2: every part but the last must be at least 5 MiB, and all of them the same size. */
  uploadPart(partNumber: number, value: ArrayBuffer | Uint8Array | string): Promise<UploadedPart>;
  complete(parts: UploadedPart[]): Promise<StoredObject>;
  abort(): Promise<void>;
}

export interface ListResult {
  objects: StoredObject[];
  delimitedPrefixes: string[];
  truncated: boolean;
  cursor?: string;
}

export interface FileBucket {
  put(
    key: string,
    value: ReadableStream<Uint8Array> | ArrayBuffer | Uint8Array | string,
    options?: PutOptions,
  ): Promise<StoredObject | null>;
  get(key: string): Promise<StoredObjectBody | null>;
  head(key: string): Promise<StoredObject | null>;
  delete(keys: string | string[]): Promise<void>;
  list(options?: {
    prefix?: string;
    delimiter?: string;
    cursor?: string;
    limit?: number;
  }): Promise<ListResult>;
  createMultipartUpload(key: string, options?: Omit<PutOptions, "sha256">): Promise<MultipartUpload>;
}

/** The binding's name in wrangler.toml (`[[r2_buckets]] binding = "FILES"`). */
export const FILES_BINDING = "FILES";

/** The FILES binding from the runtime's env, or null where none is bound (the app under Node without one). */
export function filesBucket(env: unknown): FileBucket | null {
  const b = (env as Record<string, unknown> | undefined)?.[FILES_BINDING] as Partial<FileBucket> | undefined;
  return b && typeof b.get === "function" && typeof b.put === "function" && typeof b.list === "function"
    ? (b as FileBucket)
    : null;
}
