/** Shapes of the JSON QStash returns, built from our records. Fields that do not apply are
 * omitted, as QStash's Go server omits empty fields. */

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** `{ body }` when the bytes are UTF-8 text, `{ bodyBase64 }` otherwise (QStash's convention). */
export function bodyFields(body: Buffer, prefix = "body"): Record<string, string> {
  if (body.length === 0) return {};
  try {
    return { [prefix]: strictUtf8.decode(body) };
  } catch {
    return { [`${prefix}Base64`]: body.toString("base64") };
  }
}

/** Drops undefined fields so the JSON looks like QStash's (omitempty). */
export function compact<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export function randomId(prefix: string): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  let id = prefix;
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}
