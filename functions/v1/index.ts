/**
 * /v1: the clinical API. One sub-app that authenticates once (every route inside has a caller),
 * gives route code only the caller-scoped database handle, makes POSTs retry-safe with
 * Idempotency-Key, and maps database errors to the error model.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { neon } from "@neondatabase/serverless";
import type { Context } from "hono";
import { callerDb, type ReadRouting } from "../../db/caller";
import { cachedIdentitySigner } from "../../db/identity";
import { createDbExecutor, type DbExecutor } from "../../db/resilience";
import type { AppEnv } from "../context";
import { onError, validationHook } from "../errors";
import { rateLimit } from "../lib/ratelimit";
import { replicaUrls } from "../lib/replicas";
import { requireAuth } from "../middleware/auth";
import { registerAnexos } from "./anexos";
import { registerConsultas } from "./consultas";
import type { V1Env } from "./context";
import { dbErrorToApiError } from "./db-errors";
import { registerExercicios } from "./exercicios";
import { registerFisioterapeutas } from "./fisioterapeutas";
import { idempotency } from "./idempotency";
import { registerOps } from "./ops";
import { registerPacientes } from "./pacientes";
import { registerPrescricoes } from "./prescricoes";
import { registerProntuarios } from "./prontuarios";

/**
 * Per isolate, not per request: a circuit breaker must remember failures across requests. One per
 * database URL, so a replica that is down does not stop the primary.
 */
const executors = new Map<string, DbExecutor>();
function executorFor(url: string): DbExecutor {
  let exec = executors.get(url);
  if (!exec) {
    exec = createDbExecutor();
    executors.set(url, exec);
  }
  return exec;
}
/** Round robin across replicas, across the requests this isolate serves. */
let nextReplica = 0;

/**
 * Reads go to READ_REPLICA_URLS, or to the read_only endpoints discovered through the Neon API
 * (functions/lib/replicas.ts); none: every read on the primary.
 */
async function readRouting(c: Context<V1Env>): Promise<ReadRouting | undefined> {
  const env = c.get("env");
  const { redis, logger, neon: neonApi } = c.get("services");
  const urls = await replicaUrls({
    databaseUrl: env.DATABASE_URL,
    configured: env.READ_REPLICA_URLS,
    neon: neonApi,
    redis,
    logger,
  });
  if (!urls.length) return undefined;
  const key = `ryw:${c.get("auth").userId}`;
  return {
    replicas: urls.map((u) => ({
      sql: neon(u),
      exec: executorFor(u),
    })),
    pick: () => nextReplica++,
    // Without Redis there is no telling who just wrote: every read stays on the primary.
    async recentlyWrote() {
      if (!redis || env.READ_YOUR_WRITES_SECONDS === 0) return redis === null;
      try {
        return (await redis.exists(key)) === 1;
      } catch (err) {
        logger.warn("read_routing_degraded", { op: "exists", error: (err as Error).name });
        return true;
      }
    },
    async wrote() {
      if (!redis || env.READ_YOUR_WRITES_SECONDS === 0) return;
      try {
        await redis.set(key, 1, { ex: env.READ_YOUR_WRITES_SECONDS });
      } catch (err) {
        logger.warn("read_routing_degraded", { op: "set", error: (err as Error).name });
      }
    },
    onFallback: (replica, err) =>
      logger.warn("read_replica_failed", {
        replica,
        error: (err as Error).name,
        code: (err as { code?: string }).code,
      }),
  };
}

export function registerV1(app: OpenAPIHono<AppEnv>) {
  const v1 = new OpenAPIHono<V1Env>({ defaultHook: validationHook });
  v1.use("*", requireAuth());
  // Per user, after authentication; without Redis it lets everything through (and says so).
  v1.use(
    "*",
    rateLimit<V1Env>((c) => ({ limit: c.get("env").RATE_LIMIT_PER_MINUTE, window: "60 s", prefix: "rl:v1" })),
  );
  v1.use("*", async (c, next) => {
    // The one place the unscoped connection is wrapped: from here on, every batch carries the
    // caller, signed with the identity key the database verifies (db/identity.ts).
    const env = c.get("env");
    const signer = cachedIdentitySigner({ kid: env.DB_IDENTITY_KEY_ID, secret: env.DB_IDENTITY_KEY });
    c.set(
      "db",
      callerDb(
        c.get("services").unscopedSql,
        { auth: c.get("auth"), signer },
        {
          exec: executorFor(c.get("env").DATABASE_URL),
          routing: await readRouting(c),
        },
      ),
    );
    await next();
  });
  v1.use("*", idempotency);
  registerFisioterapeutas(v1);
  registerPacientes(v1);
  registerConsultas(v1);
  registerProntuarios(v1);
  registerAnexos(v1);
  registerExercicios(v1);
  registerPrescricoes(v1);
  registerOps(v1);
  v1.onError(async (err, c) => onError((await dbErrorToApiError(err, c)) ?? err, c));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  app.route("/v1", v1);
}
