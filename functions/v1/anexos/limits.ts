/**
 * What an attachment may be: its size, its types, and the bytes each type starts with. Kept apart
 * from the routes because the app's body-limit middleware (functions/app.ts) needs the upload's
 * limit and path before any route runs (and CORS and the idempotency fingerprint its name header).
 */

/** 10 MiB: an exam PDF or a phone photo. The database allows up to 100 MiB (0018). */
export const ANEXO_MAX_BYTES = 10 * 1024 * 1024;

/** The upload route, as the body-limit middleware sees the request path. */
const UPLOAD_PATH = /^\/v1\/prontuarios\/[^/]+\/anexos$/;

export function isAnexoUpload(method: string, path: string): boolean {
  return method === "POST" && UPLOAD_PATH.test(path);
}

/**
 * The request header that carries the upload's file name, percent-encoded as UTF-8 (what
 * encodeURIComponent makes). A header, not the query string: names may name the paciente, and
 * URLs end up in logs and browser history that anonymisation cannot reach.
 */
export const NOME_ARQUIVO_HEADER = "X-Nome-Arquivo";

export const ANEXO_CONTENT_TYPES = ["application/pdf", "image/jpeg", "image/png", "image/webp"] as const;
export type AnexoContentType = (typeof ANEXO_CONTENT_TYPES)[number];

/** The media type of a Content-Type header when it is one we take (parameters ignored), else null. */
export function anexoContentType(header: string | undefined): AnexoContentType | null {
  const essence = header?.split(";")[0]?.trim().toLowerCase();
  return (ANEXO_CONTENT_TYPES as readonly string[]).includes(essence ?? "")
    ? (essence as AnexoContentType)
    : null;
}

/** Each type's signature: [offset, bytes] pairs that must all match. */
const MAGIC: Record<AnexoContentType, [number, number[]][]> = {
  "application/pdf": [[0, [0x25, 0x50, 0x44, 0x46, 0x2d]]], // %PDF-
  "image/jpeg": [[0, [0xff, 0xd8, 0xff]]],
  "image/png": [[0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]]],
  "image/webp": [
    [0, [0x52, 0x49, 0x46, 0x46]], // RIFF
    [8, [0x57, 0x45, 0x42, 0x50]], // WEBP
  ],
};

/** Whether the bytes start as the declared type's files do (a renamed .exe is not a PDF). */
export function matchesMagic(type: AnexoContentType, bytes: Uint8Array): boolean {
  return MAGIC[type].every(([offset, sig]) => sig.every((b, i) => bytes[offset + i] === b));
}

/** The extension of a download's generic name (an anonymised attachment has no name of its own). */
export const EXTENSION: Record<AnexoContentType, string> = {
  "application/pdf": "pdf",
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/webp": "webp",
};
