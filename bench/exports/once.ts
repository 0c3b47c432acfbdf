/**
 * One export or one restore in a process of its own (bench/exports/run.ts starts it under a V8
 * heap cap), sampling its memory every 20 ms; prints one JSON line with the figures.
 *   export r2:    OWNER_URL, NEON_WS_PROXY, NEON_FETCH_ENDPOINT, R2_PERSIST, EXPORT_ID
 *   export disk:  the same with SINK_DIR instead of R2_PERSIST: the objects go to files through a
 *                 multipart sink, so neither wrangler nor miniflare is loaded in this process and
 *                 the heap cap can be a Worker's 128 MB
 *   restore:      EXPORT_ID, TARGET_URL and R2_PERSIST, or SINK_DIR (the disk export's files, read as
 *                 `npm run export:restore -- --dir` reads them)
 */
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { LOCAL } from "../../dev/config";
import { configureNeonForLocal } from "../../dev/neon/client";
import { keyLookup, parseExportKey } from "../../jobs/exports/crypto";
import { directoryBucket } from "../../jobs/exports/dir-bucket";
import { exportTables } from "../../jobs/exports/export";
import { restoreExport } from "../../jobs/exports/restore";
import { withOwnerLock } from "../../jobs/owner-session";
import { type FileBucket, filesBucket } from "../../jobs/storage/bucket";

const mode = process.argv[2];
const env = process.env;
const key = parseExportKey(LOCAL.exportKey.id, LOCAL.exportKey.base64);
const logger = { info() {}, warn() {}, error() {} };

const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sample = () => {
  const m = process.memoryUsage();
  for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = Math.max(peak[k], m[k]);
};
const timer = setInterval(sample, 20);

/** Files under `root`, written part by part in order (only what the export calls). */
function diskSink(root: string): FileBucket {
  const unsupported = () => Promise.reject(new Error("the disk sink only writes"));
  return {
    async createMultipartUpload(key) {
      const path = join(root, key);
      mkdirSync(dirname(path), { recursive: true });
      const out = createWriteStream(path);
      let size = 0;
      return {
        key,
        uploadId: "disk",
        uploadPart: (partNumber, value) =>
          new Promise((resolve, reject) => {
            const bytes =
              typeof value === "string" ? Buffer.from(value) : new Uint8Array(value as ArrayBuffer);
            size += bytes.length;
            out.write(bytes, (err) =>
              err ? reject(err) : resolve({ partNumber, etag: String(partNumber) }),
            );
          }),
        complete: () =>
          new Promise((resolve) => out.end(() => resolve({ key, size, etag: "", uploaded: new Date() }))),
        abort: async () => void out.destroy(),
      };
    },
    async put(key, value) {
      const path = join(root, key);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, new Uint8Array(value as ArrayBuffer));
      return null;
    },
    head: async () => null,
    get: unsupported,
    list: unsupported,
    delete: unsupported,
  };
}

let bucket: FileBucket;
let dispose = async () => {};
if (env.SINK_DIR) bucket = mode === "restore" ? directoryBucket(env.SINK_DIR) : diskSink(env.SINK_DIR);
else {
  const { getPlatformProxy } = await import("wrangler");
  const proxy = await getPlatformProxy<Record<string, unknown>>({
    configPath: "wrangler.toml",
    persist: { path: env.R2_PERSIST! },
  });
  bucket = filesBucket(proxy.env)!;
  dispose = () => proxy.dispose();
}
// Everything loaded (wrangler's proxy alone holds a few hundred MiB), garbage collected: the
// figures that count are the peaks over this start.
(globalThis as { gc?: () => void }).gc?.();
const baseline = (() => {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
})();
for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = baseline[k];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let out: Record<string, unknown>;
if (mode === "export") {
  configureNeonForLocal({ wsProxy: env.NEON_WS_PROXY!, sqlUrl: env.NEON_FETCH_ENDPOINT! });
  const run = await withOwnerLock({ logger }, env.OWNER_URL!, 1, (client) =>
    exportTables(client, { bucket, key, id: env.EXPORT_ID!, logger, clock: { now: () => new Date() } }),
  );
  if (run.busy) throw new Error("busy");
  const m = run.value;
  out = {
    rows: m.tables.reduce((n, t) => n + t.rows, 0),
    plainBytes: m.tables.reduce((n, t) => n + t.plain_bytes, 0),
    objectBytes: m.tables.reduce((n, t) => n + t.object_bytes, 0),
  };
} else {
  const r = await restoreExport({
    bucket,
    id: env.EXPORT_ID!,
    keys: keyLookup(key),
    targetUrl: env.TARGET_URL!,
    identityKey: LOCAL.identityKey,
  });
  out = { rows: r.tables.reduce((n, t) => n + t.rows, 0) };
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
clearInterval(timer);
sample();
await dispose();
console.log(JSON.stringify({ mode, ms, cpuMs: (cpu.user + cpu.system) / 1000, baseline, peak, ...out }));
