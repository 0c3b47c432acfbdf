/**
 * miniflare's R2 for tests that run the app or a job in Node: wrangler's platform proxy binds
 * wrangler.toml's FILES bucket exactly as `wrangler dev` does (miniflare's R2 in workerd, reached
 * through miniflare's proxy), in an ephemeral store unless `persist` names a directory.
 */
import { getPlatformProxy } from "wrangler";
import { FILES_BINDING, type FileBucket, filesBucket } from "../../jobs/storage/bucket";

export interface TestR2 {
  bucket: FileBucket;
  close(): Promise<void>;
}

export async function startR2(opts: { persist?: string } = {}): Promise<TestR2> {
  const proxy = await getPlatformProxy<Record<string, unknown>>({
    configPath: "wrangler.toml",
    persist: opts.persist ? { path: opts.persist } : false,
  });
  const bucket = filesBucket(proxy.env);
  if (!bucket) {
    await proxy.dispose();
    throw new Error(`wrangler.toml binds no R2 bucket as ${FILES_BINDING}`);
  }
  return { bucket, close: () => proxy.dispose() };
}
