import type { z } from "@hono/zod-openapi";
import { ApiError } from "../errors";

/** Opaque page cursors: base64url of a small JSON value, checked with a zod schema on the way in. */
export function encodeCursor(value: unknown): string {
  return btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

export function decodeCursor<S extends z.ZodType>(cursor: string, schema: S): z.infer<S> {
  try {
    const b64 = cursor.replaceAll("-", "+").replaceAll("_", "/");
    const parsed = schema.safeParse(JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))));
    if (parsed.success) return parsed.data;
  } catch {
    // falls through to the 400
  }
  throw new ApiError("bad_request", "cursor is not one this API returned", [
    { path: "cursor", message: "invalid cursor" },
  ]);
}
