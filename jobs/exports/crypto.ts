/**
 * The encrypted object format of exports: a stream of AES-256-GCM segments, built only from
 * WebCrypto so it runs the same in Workers, Node and the restore CLI.
 *
 *   header  = "FFX1" | u16 length | JSON {v, kid, name, seg} | salt (32 random bytes)
 *   frame   = u32 length | AES-GCM(segment) (plaintext ≤ seg bytes, then the 16-byte tag)
 *
 * Each object gets its own key, HKDF-SHA256(master key, salt, "fisioflow-export/1"), so nonces
 * never repeat across objects under one master key. A segment's nonce is its index (bytes 7–10)
 * and a flag that marks the last segment (byte 11); every segment authenticates the header as
 * associated data. So a changed byte, swapped or dropped segments, a truncated object or one
 * renamed to another table's or export's place all fail to decrypt, and trailing bytes are
 * refused. Memory stays flat: one segment in, one frame out (the STREAM construction, as in
 * Tink's streaming AEAD).
 */

export const EXPORT_MAGIC = "FFX1";
/** Plaintext bytes per segment (the gzip output is cut into these). */
export const SEGMENT_BYTES = 1 << 20;
const SALT_BYTES = 32;
const TAG_BYTES = 16;
const MAX_HEADER_JSON = 4096;
type CryptoKey = Awaited<ReturnType<typeof crypto.subtle.deriveKey>>;

export interface ExportKey {
  /** Recorded in every object's header and in the manifest, so a restore picks the right key. */
  id: string;
  /** 32 bytes (EXPORT_KEY is their base64). */
  key: Uint8Array;
}

/** Thrown when an object does not decrypt: tampered, truncated, misplaced or the wrong key. */
export class ExportIntegrityError extends Error {
  override name = "ExportIntegrityError";
}

/** EXPORT_KEY (base64 of 32 random bytes: `openssl rand -base64 32`) to key bytes, or an error naming the problem. */
export function parseExportKey(id: string, base64: string): ExportKey {
  let key: Uint8Array;
  try {
    key = Uint8Array.from(atob(base64.trim()), (ch) => ch.charCodeAt(0));
  } catch {
    throw new Error("EXPORT_KEY is not base64");
  }
  if (key.length !== 32) throw new Error(`EXPORT_KEY must be 32 bytes of base64, got ${key.length} bytes`);
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(id))
    throw new Error("EXPORT_KEY_ID must be 1-32 letters, digits, _ or -");
  return { id, key };
}

/** What decryptStream asks for a key id: the one key given, when the id is its own. */
export function keyLookup(key: ExportKey | null): (kid: string) => Uint8Array | undefined {
  return (kid) => (key && key.id === kid ? key.key : undefined);
}

interface Header {
  v: 1;
  kid: string;
  name: string;
  seg: number;
}

async function objectKey(master: Uint8Array, salt: Uint8Array): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", master, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: salt,
      info: new TextEncoder().encode("fisioflow-export/1"),
    },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function nonce(index: number, last: boolean): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(7, index);
  n[11] = last ? 1 : 0;
  return n;
}

function encodeHeader(h: Header, salt: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(4 + 2 + json.length + SALT_BYTES);
  out.set(new TextEncoder().encode(EXPORT_MAGIC), 0);
  new DataView(out.buffer).setUint16(4, json.length);
  out.set(json, 6);
  out.set(salt, 6 + json.length);
  return out;
}

/**
 * Encrypts a byte stream as the object `name` (its place: the header binds it) under `key`.
 * Segments of SEGMENT_BYTES (or `segmentBytes`, for tests) in, frames out.
 */
export function encryptStream(
  key: ExportKey,
  name: string,
  segmentBytes = SEGMENT_BYTES,
): TransformStream<Uint8Array, Uint8Array> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const header = encodeHeader({ v: 1, kid: key.id, name, seg: segmentBytes }, salt);
  const pending = new SegmentBuffer();
  let aes: CryptoKey;
  let index = 0;
  const seal = async (plain: Uint8Array, last: boolean) => {
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv: nonce(index++, last), additionalData: header },
        aes,
        plain,
      ),
    );
    const frame = new Uint8Array(4 + sealed.length);
    new DataView(frame.buffer).setUint32(0, sealed.length);
    frame.set(sealed, 4);
    return frame;
  };
  return new TransformStream({
    async start(controller) {
      aes = await objectKey(key.key, salt);
      controller.enqueue(header);
    },
    async transform(chunk, controller) {
      pending.push(chunk);
      // Keep at least one byte back: the last segment is sealed in flush, flagged as last.
      while (pending.length > segmentBytes) controller.enqueue(await seal(pending.take(segmentBytes), false));
    },
    async flush(controller) {
      controller.enqueue(await seal(pending.take(pending.length), true));
    },
  });
}

/** What a header says before anything is decrypted (the key id, for the listing and the CLI). */
export function readHeader(bytes: Uint8Array): { header: Header; length: number } | null {
  if (bytes.length < 6) return null;
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== EXPORT_MAGIC)
    throw new ExportIntegrityError("not an export object (bad magic)");
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset).getUint16(4);
  if (jsonLength > MAX_HEADER_JSON) throw new ExportIntegrityError("export object header too long");
  const length = 6 + jsonLength + SALT_BYTES;
  if (bytes.length < length) return null;
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(6, 6 + jsonLength)));
  } catch {
    throw new ExportIntegrityError("export object header is not JSON");
  }
  if (
    header?.v !== 1 ||
    typeof header.kid !== "string" ||
    typeof header.name !== "string" ||
    !Number.isInteger(header.seg) ||
    header.seg < 1 ||
    header.seg > 64 * SEGMENT_BYTES
  )
    throw new ExportIntegrityError("export object header is not version 1");
  return { header, length };
}

/**
 * Decrypts an object written by encryptStream as `name` with `keys` (by key id). Errors with an
 * ExportIntegrityError at the first segment that does not authenticate, on a truncated object,
 * on trailing bytes, and on an object whose header names another place or an unknown key.
 */
export function decryptStream(
  keys: (kid: string) => Uint8Array | undefined,
  name: string,
): TransformStream<Uint8Array, Uint8Array> {
  const input = new SegmentBuffer();
  let header: Uint8Array | null = null;
  let maxFrame = 0;
  let aes: CryptoKey;
  let index = 0;
  let ended = false;
  const open = async (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (!header) {
      const h = readHeader(input.peek(6 + MAX_HEADER_JSON + SALT_BYTES));
      if (!h) return false;
      if (h.header.name !== name)
        throw new ExportIntegrityError(`object ${name} holds ${h.header.name}: not this export's object`);
      const master = keys(h.header.kid);
      if (!master)
        throw new ExportIntegrityError(`object ${name} is encrypted with key ${h.header.kid}, not given`);
      header = input.take(h.length);
      maxFrame = h.header.seg + TAG_BYTES;
      aes = await objectKey(master, header.subarray(header.length - SALT_BYTES));
    }
    while (input.length >= 4) {
      if (ended) throw new ExportIntegrityError(`object ${name} has bytes after its last segment`);
      const size = new DataView(input.peek(4).slice().buffer).getUint32(0);
      if (size < TAG_BYTES || size > maxFrame)
        throw new ExportIntegrityError(`object ${name}: segment ${index} has an impossible length`);
      if (input.length < 4 + size) return true;
      input.take(4);
      const sealed = input.take(size);
      const plain = await decryptSegment(sealed);
      controller.enqueue(plain);
    }
    return true;
  };
  const decryptSegment = async (sealed: Uint8Array) => {
    // Which of the two the writer used tells whether this was its last segment.
    for (const last of [false, true]) {
      try {
        const plain = new Uint8Array(
          await crypto.subtle.decrypt(
            { name: "AES-GCM", iv: nonce(index, last), additionalData: header! },
            aes,
            sealed,
          ),
        );
        index++;
        ended = last;
        return plain;
      } catch {}
    }
    throw new ExportIntegrityError(
      `object ${name}: segment ${index} does not authenticate (tampered, reordered or the wrong key)`,
    );
  };
  return new TransformStream({
    async transform(chunk, controller) {
      input.push(chunk);
      await open(controller);
    },
    async flush(controller) {
      await open(controller);
      if (!header) throw new ExportIntegrityError(`object ${name} is too short to be an export object`);
      if (input.length > 0)
        throw new ExportIntegrityError(`object ${name} ends inside a segment (truncated)`);
      if (!ended) throw new ExportIntegrityError(`object ${name} ends before its last segment (truncated)`);
    },
  });
}

/** A byte queue over the chunks it was given (no copying until bytes are taken). */
export class SegmentBuffer {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(chunk: Uint8Array) {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
  }
  /** Up to n bytes from the front, left in place. */
  peek(n: number): Uint8Array {
    const want = Math.min(n, this.length);
    if (this.chunks[0] && this.chunks[0].length >= want) return this.chunks[0].subarray(0, want);
    const out = new Uint8Array(want);
    let at = 0;
    for (const c of this.chunks) {
      if (at === want) break;
      const part = c.subarray(0, want - at);
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
      if (part.length === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part.length);
    }
    this.length -= n;
    return out;
  }
}
