import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import type { JobRegistry } from "../jobs/registry";
import type { AppEnv } from "./context";
import { registerDocs } from "./docs/get";
import { errorResponse, notFound, onError, validationHook } from "./errors";
import { registerHealth } from "./health/get";
import { registerJobs } from "./jobs/receiver";
import { registerMetrics } from "./metrics/get";
import { init } from "./middleware/init";
import { requestMetrics } from "./middleware/request-metrics";
import { registerOpsDashboard } from "./ops/dashboard";
import { registerV1 } from "./v1";
import { ANEXO_MAX_BYTES, isAnexoUpload, NOME_ARQUIVO_HEADER } from "./v1/anexos/limits";

export const MAX_BODY_BYTES = 256 * 1024;

export interface AppOptions {
  /** The jobs POST /jobs/:name can run; default jobs/registry. */
  jobs?: JobRegistry;
}

export function createApp(opts: AppOptions = {}) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  // First: its time covers every other middleware (it reads init's services after the answer).
  app.use("*", requestMetrics);
  app.use("*", init);
  app.use("*", secureHeaders());
  app.use(
    "*",
    cors({
      origin: (origin, c) => {
        const allowed =
          c
            .get("env")
            ?.CORS_ORIGINS.split(",")
            .map((s: string) => s.trim()) ?? [];
        return allowed.includes(origin) ? origin : null;
      },
      // X-Nome-Arquivo: an attachment's file name, which must not travel in the URL.
      // Every request header the API reads: a browser on an allowed origin may send them all.
      allowHeaders: [
        "Authorization",
        "Content-Type",
        "X-Request-Id",
        "Idempotency-Key",
        "If-Match",
        "If-None-Match",
        NOME_ARQUIVO_HEADER,
      ],
      exposeHeaders: [
        "X-Request-Id",
        "RateLimit-Remaining",
        "Retry-After",
        "Content-Disposition",
        "ETag",
        "Location",
      ],
      maxAge: 600,
    }),
  );
  const limitOf = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: (c) => errorResponse(c, "payload_too_large", `Request body over ${maxSize} bytes`),
    });
  const bodyLimits = { default: limitOf(MAX_BODY_BYTES), anexo: limitOf(ANEXO_MAX_BYTES) };
  // Before anything reads a body (the idempotency fingerprint included): by Content-Length at
  // once, else while the body streams in. Attachment uploads have a limit of their own.
  app.use("*", (c, next) =>
    (isAnexoUpload(c.req.method, c.req.path) ? bodyLimits.anexo : bodyLimits.default)(c, next),
  );

  registerHealth(app);
  registerDocs(app);
  registerOpsDashboard(app);
  registerJobs(app, opts.jobs);
  registerMetrics(app);
  registerV1(app);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "FisioFlow Edge API", version: "0.1.0" },
  });
  app.notFound(notFound);
  app.onError(onError);
  return app;
}
