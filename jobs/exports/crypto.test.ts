import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decryptStream, ExportIntegrityError, encryptStream, keyLookup, parseExportKey } from "./crypto";

const KEY = parseExportKey("k1", Buffer.alloc(32, 1).toString("base64"));
const keys = keyLookup(KEY);

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
function streamOf(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (let i = 0; i < bytes.length; i += chunk) c.enqueue(bytes.slice(i, i + chunk));
      c.close();
    },
  });
}
const seal = (plain: Uint8Array, name = "obj", seg = 64, chunk = 17) =>
  collect(streamOf(plain, chunk).pipeThrough(encryptStream(KEY, name, seg)));
const open = (sealed: Uint8Array, name = "obj", chunk = 13, k = keys) =>
  collect(streamOf(sealed, chunk).pipeThrough(decryptStream(k, name)));

describe("export encryption (AES-256-GCM segments)", () => {
  it("round-trips any bytes, whatever the segment and chunk sizes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        async (plain, seg, inChunk, outChunk) => {
          const sealed = await seal(plain, "obj", seg, inChunk);
          expect(await open(sealed, "obj", outChunk)).toEqual(plain);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refuses any single flipped bit, a truncation, trailing bytes and a dropped or swapped segment", async () => {
    const plain = new Uint8Array(300).map((_, i) => i);
    const sealed = await seal(plain);
    const fails = async (bytes: Uint8Array) => {
      const err = await open(bytes).catch((e: Error) => e);
      expect(err).toBeInstanceOf(ExportIntegrityError);
      return (err as Error).message;
    };
    for (let i = 0; i < sealed.length; i += 7) {
      const t = sealed.slice();
      t[i]! ^= 0x10;
      await fails(t);
    }
    expect(await fails(sealed.slice(0, sealed.length - 1))).toMatch(/truncated/);
    // Cut exactly after a whole segment (header + 4 frames of 4+64+16 bytes): no last segment.
    const header = sealed.length - (4 * (4 + 64 + 16) + (4 + 300 - 256 + 16));
    expect(await fails(sealed.slice(0, header + 2 * 84))).toMatch(/before its last segment/);
    expect(await fails(new Uint8Array([...sealed, 0, 0, 0, 0, 1]))).toMatch(/after its last segment/);
    const frames = sealed.slice(header);
    const swapped = new Uint8Array([
      ...sealed.slice(0, header),
      ...frames.slice(84, 168),
      ...frames.slice(0, 84),
      ...frames.slice(168),
    ]);
    expect(await fails(swapped)).toMatch(/segment 0 does not authenticate/);
    const dropped = new Uint8Array([...sealed.slice(0, header), ...frames.slice(84)]);
    expect(await fails(dropped)).toMatch(/segment 0 does not authenticate/);
  });

  it("binds each object to its place and its key", async () => {
    const sealed = await seal(new TextEncoder().encode("paciente"), "exports/a/tables/x");
    await expect(open(sealed, "exports/b/tables/x")).rejects.toThrow(/holds exports\/a\/tables\/x/);
    await expect(open(sealed, "exports/a/tables/x", 5, () => undefined)).rejects.toThrow(/key k1, not given/);
    await expect(open(sealed, "exports/a/tables/x", 5, () => Buffer.alloc(32, 2))).rejects.toThrow(
      /does not authenticate/,
    );
    // The same bytes twice never seal alike (a fresh salt, so a fresh key, per object).
    expect(await seal(new TextEncoder().encode("paciente"), "exports/a/tables/x")).not.toEqual(sealed);
  });

  it("checks the key's shape and names no secret", () => {
    expect(() => parseExportKey("k1", "c2hvcnQ=")).toThrow(
      "EXPORT_KEY must be 32 bytes of base64, got 5 bytes",
    );
    expect(() => parseExportKey("k1", "%%%")).toThrow("EXPORT_KEY is not base64");
    expect(() => parseExportKey("bad id!", Buffer.alloc(32).toString("base64"))).toThrow(/EXPORT_KEY_ID/);
  });
});
