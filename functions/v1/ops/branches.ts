/**
 * /v1/ops/branches: the project's Neon branches against the branch policy (jobs/neon/policy.ts),
 * and creating or deleting them by that policy (shared helpers: ./neon.ts).
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { BranchView, EndpointView } from "../../../jobs/neon/api";
import {
  type BranchPolicy,
  branchPolicies,
  driftOf,
  invalidFeatureName,
  policyFor,
} from "../../../jobs/neon/policy";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { allowRoles } from "../guards";
import { bearerSecurity, errorResponses, IdempotencyKeyHeader } from "../openapi";
import { branchRef, findBranch, NO_STORE, withNeon } from "./neon";
import { BranchRefParam, CreateNeonBranch, DeletedNeonBranch, NeonBranch, NeonBranchList } from "./schema";

/** A branch as the routes show it: its policy, its read_write endpoint's limits and drift, its replicas. */
export function branchOut(
  b: BranchView,
  all: readonly BranchView[],
  endpoints: readonly EndpointView[],
  policies: readonly BranchPolicy[],
): NeonBranch {
  const policy = policyFor(b.name, policies);
  const mine = endpoints.filter((e) => e.branchId === b.id);
  const rw = mine.find((e) => e.type === "read_write");
  return {
    id: b.id,
    name: b.name,
    parent: b.parentId ? branchRef(all, b.parentId) : null,
    state: b.state,
    default: b.default,
    protected: b.protected,
    created_at: b.createdAt,
    expires_at: b.expiresAt,
    policy: policy?.name ?? null,
    endpoint: rw
      ? {
          id: rw.id,
          host: rw.host,
          state: rw.state,
          autoscaling_limit_min_cu: rw.autoscaling_limit_min_cu,
          autoscaling_limit_max_cu: rw.autoscaling_limit_max_cu,
          suspend_timeout_seconds: rw.suspend_timeout_seconds,
          drift: policy
            ? driftOf(policy, rw).map((d) => ({ field: d.field, want: d.want, have: d.have ?? null }))
            : [],
        }
      : null,
    replicas: mine.filter((e) => e.type === "read_only").length,
  };
}

// ------------------------------------------------------------------------------------------------
// GET /ops/branches

const listRoute = createRoute({
  method: "get",
  path: "/ops/branches",
  tags: ["ops"],
  summary: "The project's Neon branches against the branch policy (admin)",
  description:
    "Admins only. Every branch with its parent, state, expiry, the policy it falls under (main, " +
    "staging, development, feature/*; null: unmanaged, e.g. backups), its read_write endpoint's " +
    "limits with their drift from that policy (`drift: []` when none) and how many read replicas " +
    "it has. Ids, names, hosts and limits only: never a password or connection string. 503 when " +
    "the Neon API is not configured.",
  security: bearerSecurity,
  responses: {
    200: {
      description: "Every branch",
      headers: NO_STORE,
      content: { "application/json": { schema: NeonBranchList } },
    },
    ...errorResponses(403),
  },
});

// ------------------------------------------------------------------------------------------------
// POST /ops/branches

const createRouteDef = createRoute({
  method: "post",
  path: "/ops/branches",
  tags: ["ops"],
  summary: "Create a branch by the branch policy (admin)",
  description:
    "Admins only. `name` is staging, development or feature/<name>: the branch is a copy of its " +
    "policy's parent now (staging of main, development of staging, feature/* of development), its " +
    "read_write endpoint gets the policy's limits, and a feature branch expires after " +
    "FEATURE_BRANCH_TTL_DAYS. main cannot be created; any other name answers 422. A branch that " +
    "exists answers 409, and so does one whose parent does not exist yet. Waits until Neon has the " +
    "branch ready.",
  security: bearerSecurity,
  request: {
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: CreateNeonBranch } } },
  },
  responses: {
    201: {
      description: "Created and ready",
      headers: NO_STORE,
      content: { "application/json": { schema: NeonBranch } },
    },
    ...errorResponses(403, 404, 409, 422),
  },
});

/** Whole seconds: Neon takes expires_at as RFC 3339 with seconds precision. */
function secondsIso(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

// ------------------------------------------------------------------------------------------------
// DELETE /ops/branches/{ref}

const deleteRoute = createRoute({
  method: "delete",
  path: "/ops/branches/{ref}",
  tags: ["ops"],
  summary: "Delete a branch (admin)",
  description:
    "Admins only. By id or URL-encoded name (feature%2Fx). Never the default branch (main) nor a " +
    "protected one (422), nor one with child branches (409: delete those first). Its endpoints go " +
    "with it. Waits until Neon has deleted it.",
  security: bearerSecurity,
  request: { params: BranchRefParam },
  responses: {
    200: {
      description: "Deleted",
      headers: NO_STORE,
      content: { "application/json": { schema: DeletedNeonBranch } },
    },
    ...errorResponses(403, 404, 409, 422),
  },
});

export function registerBranches(app: OpenAPIHono<V1Env>) {
  app.openapi(listRoute, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const policies = branchPolicies(c.get("env").FEATURE_BRANCH_TTL_DAYS);
    const data = await withNeon(c, async (neon) => {
      const [all, endpoints] = await Promise.all([neon.listBranches(), neon.listEndpoints()]);
      return all.map((b) => branchOut(b, all, endpoints, policies));
    });
    return c.json({ data }, 200);
  });

  app.openapi(createRouteDef, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const { name } = c.req.valid("json");
    const policies = branchPolicies(c.get("env").FEATURE_BRANCH_TTL_DAYS);
    if (name === "main") {
      throw new ApiError(
        "unprocessable_entity",
        "main is the project's root branch: it exists from the start and is never created",
      );
    }
    const policy = policyFor(name, policies);
    if (!policy?.parent) {
      throw new ApiError(
        "unprocessable_entity",
        name.startsWith("feature/")
          ? (invalidFeatureName(name) ?? "not a feature branch name")
          : "not a branch the policy manages: staging, development or feature/<name>",
      );
    }
    const parentName = policy.parent;
    const branch = await withNeon(c, async (neon) => {
      const all = await neon.listBranches();
      if (all.some((b) => b.name === name)) {
        throw new ApiError("conflict", `A branch named ${name} already exists`);
      }
      const parent = all.find((b) => b.name === parentName);
      if (!parent) {
        throw new ApiError(
          "conflict",
          `${name} is created from ${parentName}, which does not exist yet: create ${parentName} first`,
        );
      }
      const expiresAt = policy.expiresAfterDays
        ? secondsIso(new Date(c.get("services").clock.now().getTime() + policy.expiresAfterDays * 86_400_000))
        : undefined;
      const created = await neon.createBranch({
        name,
        parentId: parent.id,
        endpoint: policy.endpoint,
        ...(expiresAt ? { expiresAt } : {}),
      });
      // The create answer is Neon's at acceptance ("init"): read back what is ready now. A failed
      // read-back must not turn a created branch into an error (a retry would get 409).
      const [ready, endpoints] = await Promise.all([
        neon.getBranch(created.id).catch(() => created),
        neon.listEndpoints(created.id).catch(() => []),
      ]);
      return branchOut(ready, [...all, ready], endpoints, policies);
    });
    c.get("services").logger.info("neon_branch_created", { branch_id: branch.id, policy: branch.policy });
    return c.json(branch, 201);
  });

  app.openapi(deleteRoute, async (c) => {
    allowRoles(c.get("auth"), "admin");
    const { ref } = c.req.valid("param");
    const deleted = await withNeon(c, async (neon) => {
      const all = await neon.listBranches();
      const target = findBranch(all, ref);
      if (!target) throw new ApiError("not_found", "No such branch");
      if (target.default || target.name === "main") {
        throw new ApiError(
          "unprocessable_entity",
          "main is the project's default branch: it is never deleted",
        );
      }
      if (target.protected) {
        throw new ApiError(
          "unprocessable_entity",
          `${target.name} is a protected branch: remove its protection in Neon first`,
        );
      }
      const children = all.filter((b) => b.parentId === target.id).map((b) => b.name);
      if (children.length) {
        throw new ApiError(
          "conflict",
          `${target.name} has child branches (${children.join(", ")}): delete them first`,
        );
      }
      await neon.deleteBranch(target.id);
      return target;
    });
    c.get("services").logger.info("neon_branch_deleted", { branch_id: deleted.id });
    return c.json({ id: deleted.id, name: deleted.name, deleted: true as const }, 200);
  });
}
