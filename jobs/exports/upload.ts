import type { FileBucket, MultipartUpload } from "../storage/bucket";
import { SegmentBuffer } from "./crypto";

/** R2 multipart parts: all but the last the same size, at least 5 MiB. */
export const PART_BYTES = 8 << 20;

/**
 * Writes a stream of unknown length to the bucket as a multipart upload, one part in memory at a
 * time (R2's put needs a known length for a stream). Any failure cancels the stream with that
 * error (so whoever writes into it stops at once, with the reason) and aborts the upload, so no
 * half-written object is left behind. Returns the object's size.
 */
export async function uploadStream(
  bucket: FileBucket,
  key: string,
  stream: ReadableStream<Uint8Array>,
  customMetadata: Record<string, string>,
  partBytes = PART_BYTES,
): Promise<number> {
  let upload: MultipartUpload | undefined;
  const reader = stream.getReader();
  try {
    upload = await bucket.createMultipartUpload(key, {
      httpMetadata: { contentType: "application/octet-stream" },
      customMetadata,
    });
    const parts = [];
    const pending = new SegmentBuffer();
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending.push(value);
      size += value.length;
      while (pending.length >= partBytes)
        parts.push(await upload.uploadPart(parts.length + 1, pending.take(partBytes)));
    }
    if (pending.length || !parts.length)
      parts.push(await upload.uploadPart(parts.length + 1, pending.take(pending.length)));
    await upload.complete(parts);
    return size;
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    await upload?.abort().catch(() => {});
    throw err;
  }
}
