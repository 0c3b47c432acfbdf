/**
 * Versions for ETag / If-Match. A row's version is its `updated_at` as PostgreSQL prints it
 * (`updated_at::text`, microseconds included; a JS Date would drop them), so a conditional write
 * compares it in SQL (`updated_at = $n::timestamptz`): the check and the write are one statement.
 */
export function etagOf(version: string): string {
  return `"${btoa(version).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")}"`;
}

/** `updated_at::text` as PostgreSQL prints a timestamptz: the only shape our ETags carry. */
const VERSION = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;
/** A version no row has (updated_at is never this old): what an ETag that is not ours compares as. */
export const NO_VERSION = "1970-01-01 00:00:00+00";

/**
 * The version an If-Match names: undefined when absent or `*` (any version). If-Match compares
 * strongly (RFC 9110): a weak ETag, another server's ETag or garbage can never match, so it
 * becomes NO_VERSION and the write answers 412, as a stale ETag does. In a list, the first of
 * our ETags counts.
 */
export function versionFromIfMatch(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === "*") return undefined;
  for (const tag of value.split(",")) {
    const m = /^"([A-Za-z0-9_-]{1,200})"$/.exec(tag.trim());
    if (!m) continue;
    try {
      const b64 = m[1]!.replaceAll("-", "+").replaceAll("_", "/");
      const version = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
      if (VERSION.test(version)) return version;
    } catch {
      // not base64: not ours
    }
  }
  return NO_VERSION;
}

/**
 * Sets the ETag of `version` on the answer; true when the request's If-None-Match names it, so the
 * GET answers 304 instead of the body.
 */
export function tagAndCheckNotModified(
  c: { header(name: string, value: string): void },
  version: string,
  ifNoneMatch: string | undefined,
): boolean {
  const etag = etagOf(version);
  c.header("ETag", etag);
  return ifNoneMatchHits(ifNoneMatch, etag);
}

/** Whether an If-None-Match header names the current version (the GET answers 304). */
function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === "*");
}
