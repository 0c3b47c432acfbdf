import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { isConnectionException, pgError } from "../../../db/errors";
import { ANEXO_PRONTUARIO_VISIVEL, type AnexoRow, INSERT_ANEXO } from "../../../db/queries/anexos";
import { DatabaseUnavailableError } from "../../../db/resilience";
import { type FileBucket, filesBucket } from "../../../jobs/storage/bucket";
import { ApiError } from "../../errors";
import { sha256Hex } from "../../lib/hash";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdParam } from "../openapi";
import {
  ANEXO_CONTENT_TYPES,
  ANEXO_MAX_BYTES,
  anexoContentType,
  matchesMagic,
  NOME_ARQUIVO_HEADER,
} from "./limits";
import { Anexo, toAnexo, UploadAnexoHeaders } from "./schema";

const binary = { schema: z.string().openapi({ format: "binary" }) };

/**
 * The name used to travel as `?nome=`: refused, so an old client notices instead of uploading
 * names into URLs. The message names the parameter, never echoes its value.
 */
const refuseNomeInQuery: MiddlewareHandler<V1Env> = async (c, next) => {
  if (c.req.query("nome") !== undefined) {
    throw new ApiError(
      "bad_request",
      `Send the file name in the ${NOME_ARQUIVO_HEADER} header (percent-encoded UTF-8), not in ?nome=`,
      [{ path: "nome", message: `moved to the ${NOME_ARQUIVO_HEADER} header`, code: "custom" }],
    );
  }
  await next();
};

const route = createRoute({
  method: "post",
  path: "/prontuarios/{id}/anexos",
  tags: ["prontuarios", "anexos"],
  summary: "Attach a file (exam PDF or image) to a prontuario",
  description:
    "The body is the file itself, its type in `Content-Type` (PDF, JPEG, PNG or WebP; the bytes " +
    `must be of that type, else 415) and its name in the \`${NOME_ARQUIVO_HEADER}\` header, ` +
    "percent-encoded as UTF-8 (`encodeURIComponent`); never in the URL, which logs and browser " +
    `history keep (a \`?nome=\` answers 400). At most ${ANEXO_MAX_BYTES} bytes (413). The ` +
    "paciente's fisioterapeuta attaches, in their own name; a prontuario the caller may not see " +
    "answers 404. Attachments are never changed or deleted (anonymising the paciente clears " +
    "their names). The answer describes the file; download it from `Location`. With " +
    "`Idempotency-Key`, a repeat must send the same bytes and the same name.",
  security: bearerSecurity,
  // Before the validators: an old client's `?nome=` (and no header) hears where the name goes.
  middleware: [refuseNomeInQuery],
  request: {
    params: IdParam,
    headers: UploadAnexoHeaders,
    body: {
      required: true,
      content: Object.fromEntries(ANEXO_CONTENT_TYPES.map((t) => [t, binary])),
    },
  },
  responses: {
    201: {
      description: "Attached",
      headers: z.object({ Location: z.string() }),
      content: { "application/json": { schema: Anexo } },
    },
    ...errorResponses(403, 404, 415),
  },
});

export function registerCreateAnexo(app: OpenAPIHono<V1Env>) {
  app.openapi(route, async (c) => {
    // Only the paciente's fisioterapeuta has an INSERT policy (as for prontuarios).
    allowRoles(c.get("auth"), "fisioterapeuta");
    // Lower case, as PostgreSQL prints a uuid: the key must be 'anexos/' || prontuario_id || '/' || id.
    const prontuarioId = c.req.valid("param").id.toLowerCase();
    // Decoded and checked by UploadAnexoHeaders. Never logged: it may name the paciente.
    const nome = c.req.valid("header")["x-nome-arquivo"];
    const contentType = anexoContentType(c.req.header("content-type"));
    if (!contentType) {
      throw new ApiError(
        "unsupported_media_type",
        `Content-Type must be one of ${ANEXO_CONTENT_TYPES.join(", ")}`,
      );
    }
    const bucket = filesBucket(c.env);
    if (!bucket) throw new ApiError("service_unavailable", "File storage is not configured");
    const db = c.get("db");

    // Before any byte goes to R2: the prontuario is one the caller may attach to. On the primary:
    // a replica may not have a prontuario written a moment ago.
    const [[access]] = await db.batch<[{ visivel: boolean }[]]>(
      (sql) => [sql(ANEXO_PRONTUARIO_VISIVEL, [prontuarioId])],
      {
        readOnly: true,
        primary: true,
      },
    );
    if (!access?.visivel) throw new ApiError("not_found", "No such prontuario");

    // The body-limit middleware (functions/app.ts) already refused more than ANEXO_MAX_BYTES,
    // by Content-Length or while reading; checked again on what actually arrived.
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength === 0) throw new ApiError("bad_request", "The file is empty");
    if (bytes.byteLength > ANEXO_MAX_BYTES) {
      throw new ApiError("payload_too_large", `Request body over ${ANEXO_MAX_BYTES} bytes`);
    }
    if (!matchesMagic(contentType, bytes)) {
      throw new ApiError("unsupported_media_type", `The content is not ${contentType}`);
    }

    const sha256 = await sha256Hex(bytes);
    const anexoId = crypto.randomUUID();
    const key = `anexos/${prontuarioId}/${anexoId}`;
    await storeOrFail(c, bucket, key, bytes, contentType, sha256);
    let rows: [AnexoRow[]];
    try {
      rows = await db.batch<[AnexoRow[]]>((sql) => [
        sql(INSERT_ANEXO, [anexoId, prontuarioId, nome, contentType, bytes.byteLength, sha256, key]),
      ]);
    } catch (err) {
      // Only when the row surely was not written: deleting bytes a committed row names would lose
      // them, while an object no row names is only wasted space (logged, for a sweep).
      if (surelyNotCommitted(err)) await removeQuietly(c, bucket, key, anexoId);
      else c.get("services").logger.warn("anexo_outcome_unknown", { anexo_id: anexoId });
      throw err;
    }
    const [[row]] = rows;
    if (!row) {
      // Visible a moment ago, not now (the paciente moved to another fisioterapeuta meanwhile).
      await removeQuietly(c, bucket, key, anexoId);
      throw new ApiError("not_found", "No such prontuario");
    }
    c.header("Location", `/v1/anexos/${row.id}/conteudo`);
    return c.json(toAnexo(row), 201);
  });
}

/**
 * The database refused the statement (a SQLSTATE other than a broken connection: the transaction
 * rolled back) or was never asked (the circuit breaker is open). A timeout or a lost answer may
 * have committed.
 */
function surelyNotCommitted(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  const code = pgError(err)?.code;
  return code !== undefined && !isConnectionException(code);
}

/** Puts the bytes; R2 checks them against the digest. A storage failure is a 503, not a 500. */
async function storeOrFail(
  c: { get(key: "services"): V1Env["Variables"]["services"] },
  bucket: FileBucket,
  key: string,
  bytes: Uint8Array,
  contentType: string,
  sha256: string,
) {
  try {
    await bucket.put(key, bytes, { httpMetadata: { contentType }, sha256 });
  } catch (err) {
    c.get("services").logger.error("anexo_store_failed", { error: (err as Error).name });
    throw new ApiError("service_unavailable", "File storage is unavailable; retry later");
  }
}

/** Best effort: an object no row names is unreachable through the API, only wasted space. */
async function removeQuietly(
  c: { get(key: "services"): V1Env["Variables"]["services"] },
  bucket: FileBucket,
  key: string,
  anexoId: string,
) {
  try {
    await bucket.delete(key);
  } catch (err) {
    c.get("services").logger.warn("anexo_orphan_object", { anexo_id: anexoId, error: (err as Error).name });
  }
}
