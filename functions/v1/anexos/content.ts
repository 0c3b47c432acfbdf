import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { ANEXO_PARA_DOWNLOAD, type AnexoRow } from "../../../db/queries/anexos";
import { filesBucket } from "../../../jobs/storage/bucket";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdParam, IfNoneMatchHeader, NOT_MODIFIED } from "../openapi";
import { ANEXO_CONTENT_TYPES, type AnexoContentType, EXTENSION } from "./limits";

const binary = { schema: z.string().openapi({ format: "binary" }) };

const route = createRoute({
  method: "get",
  path: "/anexos/{id}/conteudo",
  tags: ["anexos"],
  summary: "Download an attachment's bytes (the read is audited)",
  description:
    "Streams the file as it was uploaded, as an attachment (`Content-Disposition`; a generic " +
    "name once the paciente is anonymised), never cached (`Cache-Control: private, no-store`). " +
    "The paciente's fisioterapeuta and the paciente download it (admins: 403); an attachment the " +
    "caller may not see answers 404. Every download, a 304 included, is recorded in the audit " +
    "log (who, which attachment; never its name). The ETag is the SHA-256 of the bytes. 503 when " +
    "file storage is unavailable or does not hold the bytes.",
  security: bearerSecurity,
  request: { params: IdParam, headers: IfNoneMatchHeader },
  responses: {
    200: {
      description: "The file",
      headers: z.object({
        ETag: z.string(),
        "Content-Disposition": z.string(),
        "Content-Length": z.string(),
        "Cache-Control": z.literal("private, no-store"),
      }),
      content: Object.fromEntries(ANEXO_CONTENT_TYPES.map((t) => [t, binary])),
    },
    304: NOT_MODIFIED,
    ...errorResponses(403, 404),
  },
});

export function registerAnexoContent(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    allowRoles(c.get("auth"), "fisioterapeuta", "paciente");
    const { id } = c.req.valid("param");
    const bucket = filesBucket(c.env);
    // Before the read is audited: no audit row for a download that cannot happen.
    if (!bucket) throw new ApiError("service_unavailable", "File storage is not configured");
    // Not readOnly: the read writes its audit row in the same statement (db/queries/anexos.ts).
    const [[row]] = await c
      .get("db")
      .batch<[(AnexoRow & { r2_key: string })[]]>((sql) => [sql(ANEXO_PARA_DOWNLOAD, [id])], {
        auditedRead: true,
      });
    if (!row) throw new ApiError("not_found", "No such anexo");
    const etag = `"${row.sha256}"`;
    const cached = c.req.valid("header")["if-none-match"];
    if (cached?.split(",").some((t) => [etag, `W/${etag}`, "*"].includes(t.trim()))) {
      c.header("ETag", etag);
      return c.body(null, 304);
    }
    const logger = c.get("services").logger;
    let object: Awaited<ReturnType<typeof bucket.get>>;
    try {
      object = await bucket.get(row.r2_key);
    } catch (err) {
      logger.error("anexo_fetch_failed", { anexo_id: row.id, error: (err as Error).name });
      c.header("Retry-After", "5");
      throw new ApiError("service_unavailable", "File storage is unavailable; retry later");
    }
    if (!object || object.size !== row.tamanho) {
      // A row whose bytes are gone (or are not the ones recorded) is an operations problem, not
      // the caller's: 503 and an error line with the id, for someone to restore the object.
      logger.error("anexo_object_missing", { anexo_id: row.id, found: object !== null });
      await object?.body.cancel().catch(() => {});
      throw new ApiError("service_unavailable", "The attachment's content is unavailable");
    }
    return c.body(object.body, 200, {
      "Content-Type": row.content_type,
      "Content-Length": String(object.size),
      "Content-Disposition": contentDisposition(row),
      ETag: etag,
      "Cache-Control": "private, no-store",
      "X-Content-Type-Options": "nosniff",
      // Should a browser render it anyway: no script, no plugins, no same-origin access.
      "Content-Security-Policy": "default-src 'none'; sandbox",
    });
  });
}

/** `attachment` with the uploaded name (RFC 6266 / 8187), or a generic one once it is gone. */
function contentDisposition(row: Pick<AnexoRow, "id" | "nome_arquivo" | "content_type">): string {
  const name = row.nome_arquivo ?? `anexo-${row.id}.${EXTENSION[row.content_type as AnexoContentType]}`;
  // The quoted fallback for old clients: printable ASCII without quote or backslash.
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
