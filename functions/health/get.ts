import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { pgError } from "../../db/errors";
import type { AppEnv } from "../context";

const Check = z.object({
  status: z.enum(["ok", "error", "disabled"]),
  latency_ms: z.number().optional(),
  error: z.string().optional().openapi({ description: "An error class or SQLSTATE, never a secret" }),
});

export const HealthResponse = z
  .object({
    status: z.enum(["ok", "degraded", "down"]),
    environment: z.string(),
    checks: z.object({ db: Check, redis: Check }),
  })
  .openapi("Health");

const route = createRoute({
  method: "get",
  path: "/health",
  tags: ["ops"],
  summary: "Database and Redis status",
  responses: {
    200: { description: "The database answers", content: { "application/json": { schema: HealthResponse } } },
    503: {
      description: "The database does not answer",
      content: { "application/json": { schema: HealthResponse } },
    },
  },
});

async function timed(fn: () => Promise<unknown>): Promise<z.infer<typeof Check>> {
  const t0 = performance.now();
  try {
    await fn();
    return { status: "ok", latency_ms: Math.round((performance.now() - t0) * 10) / 10 };
  } catch (err) {
    const error = pgError(err)?.code ?? (err as Error | undefined)?.name ?? "Error";
    return { status: "error", latency_ms: Math.round((performance.now() - t0) * 10) / 10, error };
  }
}

export function registerHealth(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { unscopedSql, redis, logger } = c.get("services");
    const [db, cache] = await Promise.all([
      timed(() => unscopedSql`select 1 as ok`),
      redis ? timed(() => redis.ping()) : Promise.resolve({ status: "disabled" as const }),
    ]);
    if (db.status === "error") logger.warn("health_db_error", { error: db.error });
    if (cache.status === "error") logger.warn("health_redis_error", { error: cache.error });
    const status = db.status !== "ok" ? "down" : cache.status === "error" ? "degraded" : "ok";
    return c.json(
      { status, environment: c.get("env").ENVIRONMENT, checks: { db, redis: cache } },
      db.status === "ok" ? 200 : 503,
    );
  });
}
