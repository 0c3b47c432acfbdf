import { ApiError } from "../errors";

/**
 * Versions for ETag / If-Match. A row's version is its `updated_at` as PostgreSQL prints it
 * (`updated_at::text`, microseconds included; a JS Date would drop them), so a conditional write
 * compares it in SQL (`updated_at = $n::timestamptz`): the check and the write are one statement.
 */
export function etagOf(version: string): string {
  return `"${btoa(version).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")}"`;
}

/**
 * The version an If-Match names: undefined when absent or `*` (any version), else the decoded
 * version. A malformed or multi-valued header is a 400; one that names no version of ours
 * (another server's ETag) can never match, so it is a 412 at the write.
 */
export function versionFromIfMatch(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === "*") return undefined;
  const m = /^"([A-Za-z0-9_-]{1,200})"$/.exec(value);
  if (!m) throw new ApiError("bad_request", "If-Match must be one ETag as returned by GET");
  try {
    const b64 = m[1]!.replaceAll("-", "+").replaceAll("_", "/");
    return atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  } catch {
    throw new ApiError("bad_request", "If-Match must be one ETag as returned by GET");
  }
}

/** Whether an If-None-Match header names the current version (the GET answers 304). */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === "*");
}
