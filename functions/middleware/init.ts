import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { parseEnv } from "../env";
import { errorResponse } from "../errors";
import { createLogger } from "../lib/logger";
import { createServices } from "../services";

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * First middleware: request id, env validation, per-request services, and one structured log line
 * per request (request id, method, route, status, latency, user id; nothing personal).
 */
export const init: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = performance.now();
  const incoming = c.req.header("x-request-id");
  const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : `req_${crypto.randomUUID()}`;
  c.set("requestId", requestId);
  c.header("x-request-id", requestId);

  const parsed = parseEnv(c.env ?? {});
  if (!parsed.ok) {
    console.error(
      JSON.stringify({ level: "error", msg: "bad_environment", request_id: requestId, keys: parsed.keys }),
    );
    return errorResponse(c, "bad_environment", `Invalid environment: ${parsed.message}`, {
      keys: parsed.keys,
    });
  }
  const env = parsed.env;
  c.set("env", env);
  const logger = createLogger(env.LOG_LEVEL, { request_id: requestId });
  c.set("services", createServices(env, logger));

  await next();

  logger.info("request", {
    method: c.req.method,
    route: c.req.routePath,
    status: c.res.status,
    latency_ms: Math.round((performance.now() - started) * 10) / 10,
    user_id: c.get("auth")?.userId,
    role: c.get("auth")?.role,
  });
};
