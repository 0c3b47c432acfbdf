/**
 * /v1/ops/replicas: read replicas as Neon has them, `read_only` endpoints of a branch (never a
 * branch of their own). Listing, adding and removing them; the app reads through them when their
 * connection strings are in READ_REPLICA_URLS (set by the operator: this route never shows one).
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { BranchView, EndpointView } from "../../../jobs/neon/api";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdempotencyKeyHeader } from "../openapi";
import { branchRef, findBranch, NO_STORE, withNeon } from "./neon";
import { CreateReplica, DeletedReplica, EndpointIdParam, Replica, ReplicaList } from "./schema";

function replicaOut(e: EndpointView, all: readonly BranchView[]): Replica {
  return {
    id: e.id,
    branch: branchRef(all, e.branchId),
    host: e.host,
    state: e.state,
    autoscaling_limit_min_cu: e.autoscaling_limit_min_cu,
    autoscaling_limit_max_cu: e.autoscaling_limit_max_cu,
    suspend_timeout_seconds: e.suspend_timeout_seconds,
  };
}

const listRoute = createRoute({
  method: "get",
  path: "/ops/replicas",
  tags: ["ops"],
  summary: "The project's read replicas (admin)",
  description:
    "Admins only. Every read_only endpoint: its id, branch, host, limits and state. Never a " +
    "connection string. 503 when the Neon API is not configured.",
  security: bearerSecurity,
  responses: {
    200: {
      description: "Every read replica",
      headers: NO_STORE,
      content: { "application/json": { schema: ReplicaList } },
    },
    ...errorResponses(403),
  },
});

const createReplicaRoute = createRoute({
  method: "post",
  path: "/ops/replicas",
  tags: ["ops"],
  summary: "Add a read replica to a branch (admin)",
  description:
    "Admins only. A read_only endpoint on `branch` (id or name; default the default branch, main) " +
    "autoscaling from `min_cu` to `max_cu` (0.25, 0.5 or whole units up to 56; at most 8 apart). " +
    "Waits until Neon has it running. Unknown branch: 404.",
  security: bearerSecurity,
  request: {
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: CreateReplica } } },
  },
  responses: {
    201: {
      description: "Added and running",
      headers: NO_STORE,
      content: { "application/json": { schema: Replica } },
    },
    ...errorResponses(403, 404, 409, 422),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/ops/replicas/{endpoint_id}",
  tags: ["ops"],
  summary: "Remove a read replica (admin)",
  description:
    "Admins only. Deletes a read_only endpoint. A read_write endpoint (a branch's primary compute) " +
    "is refused with 422; an unknown id answers 404. Remove it from READ_REPLICA_URLS first.",
  security: bearerSecurity,
  request: { params: EndpointIdParam },
  responses: {
    200: {
      description: "Removed",
      headers: NO_STORE,
      content: { "application/json": { schema: DeletedReplica } },
    },
    ...errorResponses(403, 404, 422),
  },
});

export function registerReplicas(app: OpenAPIHono<V1Env>) {
  app.openapi(listRoute, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const data = await withNeon(c, async (neon) => {
      const [all, endpoints] = await Promise.all([neon.listBranches(), neon.listEndpoints()]);
      return endpoints.filter((e) => e.type === "read_only").map((e) => replicaOut(e, all));
    });
    return c.json({ data }, 200);
  });

  app.openapi(createReplicaRoute, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const body = c.req.valid("json");
    const replica = await withNeon(c, async (neon) => {
      const all = await neon.listBranches();
      const branch = body.branch === undefined ? all.find((b) => b.default) : findBranch(all, body.branch);
      if (!branch) throw new ApiError("not_found", "No such branch");
      const created = await neon.createEndpoint(branch.id, "read_only", {
        autoscaling_limit_min_cu: body.min_cu,
        autoscaling_limit_max_cu: body.max_cu,
        ...(body.suspend_timeout_seconds === undefined
          ? {}
          : { suspend_timeout_seconds: body.suspend_timeout_seconds }),
      });
      // The create answer is Neon's at acceptance ("init"): read back what runs now.
      const now = await neon.listEndpoints(branch.id).catch(() => []);
      const ready = now.find((e) => e.id === created.id) ?? created;
      return replicaOut(ready, all);
    });
    c.get("services").logger.info("neon_replica_created", {
      endpoint_id: replica.id,
      branch_id: replica.branch.id,
    });
    return c.json(replica, 201);
  });

  app.openapi(deleteRoute, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const { endpoint_id } = c.req.valid("param");
    const removed = await withNeon(c, async (neon) => {
      const endpoint = (await neon.listEndpoints()).find((e) => e.id === endpoint_id);
      if (!endpoint) throw new ApiError("not_found", "No such endpoint");
      if (endpoint.type !== "read_only") {
        throw new ApiError(
          "unprocessable_entity",
          "That is a branch's read_write endpoint, not a replica: it is not removed here",
        );
      }
      await neon.deleteEndpoint(endpoint.id);
      return endpoint;
    });
    c.get("services").logger.info("neon_replica_deleted", { endpoint_id: removed.id });
    return c.json({ id: removed.id, branch_id: removed.branchId, deleted: true as const }, 200);
  });
}
