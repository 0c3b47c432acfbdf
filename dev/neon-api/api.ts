/**
 * The local Neon API v2's HTTP side: Neon's paths, bearer-key auth, request bodies checked with
 * zod, and Neon's error body `{ request_id, code, message }` for every failure. What each call
 * does is project.ts's.
 */
import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { z } from "zod";
import { type LocalNeonProject, NeonApiError } from "./project";

const cu = z.number().positive();
const endpointFields = {
  autoscaling_limit_min_cu: cu.optional(),
  autoscaling_limit_max_cu: cu.optional(),
  suspend_timeout_seconds: z.number().int().min(-1).max(604_800).optional(),
  provisioner: z.string().optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
  pooler_enabled: z.boolean().optional(),
  pooler_mode: z.literal("transaction").optional(),
  disabled: z.boolean().optional(),
  passwordless_access: z.boolean().optional(),
  name: z.string().max(256).optional(),
  region_id: z.string().optional(),
};
const endpointType = z.enum(["read_only", "read_write"]);

const BranchCreate = z.object({
  branch: z
    .object({
      parent_id: z.string().optional(),
      name: z.string().min(1).max(256).optional(),
      parent_lsn: z.string().optional(),
      parent_timestamp: z.string().optional(),
      protected: z.boolean().optional(),
      archived: z.boolean().optional(),
      init_source: z.string().optional(),
      expires_at: z.iso.datetime({ offset: true }).optional(),
    })
    .optional(),
  endpoints: z.array(z.object({ type: endpointType, ...endpointFields })).optional(),
  annotation_value: z.record(z.string(), z.string()).optional(),
});
const BranchUpdate = z.object({
  branch: z.object({
    name: z.string().min(1).max(256).optional(),
    protected: z.boolean().optional(),
    expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
  }),
});
const BranchRestore = z.object({
  source_branch_id: z.string().min(1),
  source_lsn: z.string().optional(),
  source_timestamp: z.string().optional(),
  preserve_under_name: z.string().min(1).max(256).optional(),
});
const EndpointCreate = z.object({
  endpoint: z.object({ branch_id: z.string().min(1), type: endpointType, ...endpointFields }),
});
const EndpointUpdate = z.object({
  endpoint: z.object({ branch_id: z.string().optional(), ...endpointFields }),
});

export interface ApiOptions {
  project: LocalNeonProject;
  projectId: string;
  apiKey: string;
  log: (line: string) => void;
}

/** The API under /api/v2 (mounted on the local Neon endpoint's port). */
export function neonApiApp({ project, projectId, apiKey, log }: ApiOptions): Hono {
  const app = new Hono().basePath("/api/v2");

  app.use(async (c, next) => {
    c.header("X-Request-Id", randomUUID());
    const auth = c.req.header("authorization") ?? "";
    if (auth !== `Bearer ${apiKey}`) throw new NeonApiError(401, "authentication required: a valid API key");
    await next();
  });

  app.onError((err, c) => {
    const requestId = c.res.headers.get("X-Request-Id") ?? randomUUID();
    if (err instanceof NeonApiError) {
      return c.json({ request_id: requestId, code: err.code, message: err.message }, err.status as 400);
    }
    if (err instanceof z.ZodError) {
      const issue = err.issues[0]!;
      const message = `request body: ${issue.path.join(".") || "(root)"}: ${issue.message}`;
      return c.json({ request_id: requestId, code: "", message }, 400);
    }
    log(`neon api: ${c.req.method} ${c.req.path} failed: ${(err as Error).message}`);
    return c.json({ request_id: requestId, code: "", message: "internal error of the local Neon API" }, 500);
  });

  const body = async <T>(c: { req: { json(): Promise<unknown> } }, schema: z.ZodType<T>): Promise<T> => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new NeonApiError(400, "request body is not valid JSON");
    }
    return schema.parse(raw);
  };

  // Who is asking: neonctl looks for organizations and projects when --project-id is not given.
  app.get("/users/me/organizations", (c) => c.json({ organizations: [] }));
  app.get("/projects", (c) => c.json({ projects: [project.project()], applications: {}, integrations: {} }));

  const p = new Hono();
  p.use(async (c, next) => {
    if (c.req.param("project_id") !== projectId) throw new NeonApiError(404, "project not found");
    await next();
  });
  p.get("/", (c) => c.json({ project: project.project() }));

  p.get("/branches", (c) =>
    c.json({ branches: project.listBranches(c.req.query("search")), annotations: {} }),
  );
  p.post("/branches", async (c) => {
    const req = await body(c, BranchCreate);
    return c.json(project.createBranch(req), 201);
  });
  p.get("/branches/:branch_id", (c) =>
    c.json({ branch: project.branchView(project.branch(c.req.param("branch_id"))) }),
  );
  p.patch("/branches/:branch_id", async (c) => {
    const req = await body(c, BranchUpdate);
    return c.json(project.updateBranch(c.req.param("branch_id"), req.branch));
  });
  p.delete("/branches/:branch_id", (c) => c.json(project.deleteBranch(c.req.param("branch_id"))));
  p.post("/branches/:branch_id/restore", async (c) => {
    const req = await body(c, BranchRestore);
    return c.json(project.restoreBranch(c.req.param("branch_id"), req));
  });
  p.get("/branches/:branch_id/endpoints", (c) =>
    c.json({ endpoints: project.listEndpoints(c.req.param("branch_id")) }),
  );
  p.get("/branches/:branch_id/databases", (c) =>
    c.json({ databases: project.databasesOf(c.req.param("branch_id")) }),
  );
  p.get("/branches/:branch_id/roles", (c) => c.json({ roles: project.rolesOf(c.req.param("branch_id")) }));
  p.get("/branches/:branch_id/roles/:role_name/reveal_password", (c) =>
    c.json({ password: project.revealPassword(c.req.param("branch_id"), c.req.param("role_name")) }),
  );

  p.get("/endpoints", (c) => c.json({ endpoints: project.listEndpoints() }));
  p.post("/endpoints", async (c) => {
    const req = await body(c, EndpointCreate);
    return c.json(project.createEndpoint(req.endpoint), 201);
  });
  p.get("/endpoints/:endpoint_id", (c) =>
    c.json({ endpoint: project.endpointView(project.endpoint(c.req.param("endpoint_id"))) }),
  );
  p.patch("/endpoints/:endpoint_id", async (c) => {
    const req = await body(c, EndpointUpdate);
    return c.json(project.updateEndpoint(c.req.param("endpoint_id"), req.endpoint));
  });
  p.delete("/endpoints/:endpoint_id", (c) => c.json(project.deleteEndpoint(c.req.param("endpoint_id"))));

  p.get("/operations", (c) => c.json({ operations: project.listOperations() }));
  p.get("/operations/:operation_id", (c) =>
    c.json({ operation: project.operation(c.req.param("operation_id")) }),
  );

  p.get("/connection_uri", (c) => {
    const q = c.req.query();
    if (!q.database_name || !q.role_name) {
      throw new NeonApiError(400, "database_name and role_name are required");
    }
    return c.json({
      uri: project.connectionUri({
        branch_id: q.branch_id,
        endpoint_id: q.endpoint_id,
        database_name: q.database_name,
        role_name: q.role_name,
      }),
    });
  });

  app.route("/projects/:project_id", p);
  app.notFound(() => {
    throw new NeonApiError(
      404,
      "not found (the local Neon API serves projects, branches, endpoints, operations, roles, databases and connection_uri)",
    );
  });
  return app;
}
