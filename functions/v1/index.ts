/**
 * /v1: the clinical API. One sub-app that authenticates once (every route inside has a caller),
 * gives route code only the caller-scoped database handle, makes POSTs retry-safe with
 * Idempotency-Key, and maps database errors to the error model.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { callerDb } from "../../db/caller";
import { createDbExecutor } from "../../db/resilience";
import type { AppEnv } from "../context";
import { onError, validationHook } from "../errors";
import { rateLimit } from "../lib/ratelimit";
import { requireAuth } from "../middleware/auth";
import { registerConsultas } from "./consultas";
import type { V1Env } from "./context";
import { dbErrorToApiError } from "./db-errors";
import { registerExercicios } from "./exercicios";
import { registerFisioterapeutas } from "./fisioterapeutas";
import { idempotency } from "./idempotency";
import { registerPacientes } from "./pacientes";
import { registerPrescricoes } from "./prescricoes";
import { registerProntuarios } from "./prontuarios";

/** Per isolate, not per request: the circuit breaker must remember failures across requests. */
const dbExecutor = createDbExecutor();

export function registerV1(app: OpenAPIHono<AppEnv>) {
  const v1 = new OpenAPIHono<V1Env>({ defaultHook: validationHook });
  v1.use("*", requireAuth());
  // Per user, after authentication; without Redis it lets everything through (and says so).
  v1.use(
    "*",
    rateLimit<V1Env>((c) => ({ limit: c.get("env").RATE_LIMIT_PER_MINUTE, window: "60 s", prefix: "rl:v1" })),
  );
  v1.use("*", async (c, next) => {
    // The one place the unscoped connection is wrapped: from here on, every batch carries the caller.
    c.set(
      "db",
      callerDb(c.get("services").unscopedSql, c.get("auth"), {
        exec: dbExecutor,
        idempotent: c.req.header("idempotency-key") !== undefined,
      }),
    );
    await next();
  });
  v1.use("*", idempotency);
  registerFisioterapeutas(v1);
  registerPacientes(v1);
  registerConsultas(v1);
  registerProntuarios(v1);
  registerExercicios(v1);
  registerPrescricoes(v1);
  v1.onError(async (err, c) => onError((await dbErrorToApiError(err, c)) ?? err, c));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  app.route("/v1", v1);
}
