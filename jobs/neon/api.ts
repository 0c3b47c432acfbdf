/**
 * The Neon control plane as the worker uses it: a thin layer over Neon's official `@neon/sdk`
 * (fetch-based, no dependencies, runs in Workers) for one project — branches, endpoints,
 * restores and their operations. The SDK retries 423 (a running operation holds the branch),
 * 429 and 503 with backoff and polls operations until they end; this layer adds the same 423/429
 * retry to the one call the SDK has no wrapper for (restore), waits for every mutation's
 * operations, and returns plain views that carry no secret: no password, no connection string
 * (Neon's branch-create answer has both; they never leave this file). Errors become a
 * NeonControlPlaneError with Neon's status and message (Neon's messages name ids, never secrets).
 */
import { createNeonClient, isNeonError, type NeonClient } from "@neon/sdk";
import { type Branch, type Endpoint, type Operation, restoreProjectBranch } from "@neon/sdk/raw";
import type { EndpointLimits } from "./policy";

export interface NeonApiConfig {
  apiKey: string;
  projectId: string;
  /** Default https://console.neon.tech/api/v2; the local cloud's is http://127.0.0.1:4444/api/v2. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Operation polling: default every 1 s for up to 5 min (Neon's SDK defaults). */
  wait?: { pollIntervalMs?: number; timeoutMs?: number };
  /** Retries of 423/429/503, default 3. */
  retries?: number;
}

/** A branch as the ops routes and jobs see it. */
export interface BranchView {
  id: string;
  name: string;
  parentId: string | null;
  state: string;
  default: boolean;
  protected: boolean;
  createdAt: string;
  expiresAt: string | null;
}

/** An endpoint as the ops routes and jobs see it (its host is public; its credentials are not here). */
export interface EndpointView {
  id: string;
  branchId: string;
  type: "read_write" | "read_only";
  host: string;
  state: string;
  autoscaling_limit_min_cu: number;
  autoscaling_limit_max_cu: number;
  suspend_timeout_seconds: number;
}

export class NeonControlPlaneError extends Error {
  override name = "NeonControlPlaneError";
  constructor(
    message: string,
    /** Neon's HTTP status, or 0 when no answer came (network, timeout). */
    readonly status: number,
    /** The SDK's error kind: api, not_found, auth, rate_limit, operation, timeout, network, ... */
    readonly kind: string,
  ) {
    super(message);
  }
}

function branchView(b: Branch): BranchView {
  return {
    id: b.id,
    name: b.name,
    parentId: b.parent_id ?? null,
    state: b.current_state,
    default: b.default,
    protected: b.protected,
    createdAt: b.created_at,
    expiresAt: b.expires_at ?? null,
  };
}

function endpointView(e: Endpoint): EndpointView {
  return {
    id: e.id,
    branchId: e.branch_id,
    type: e.type,
    host: e.host,
    state: e.current_state,
    autoscaling_limit_min_cu: e.autoscaling_limit_min_cu,
    autoscaling_limit_max_cu: e.autoscaling_limit_max_cu,
    suspend_timeout_seconds: e.suspend_timeout_seconds,
  };
}

/** The SDK's error as ours: status, kind and Neon's own message. */
function controlPlaneError(err: unknown, what: string): NeonControlPlaneError {
  if (isNeonError(err)) {
    const status = "status" in err && typeof err.status === "number" ? err.status : 0;
    return new NeonControlPlaneError(`${what}: ${err.message}`, status, err.kind);
  }
  return new NeonControlPlaneError(`${what}: ${(err as Error).message}`, 0, "unknown");
}

export class NeonControlPlane {
  private readonly neon: NeonClient<true>;
  readonly projectId: string;

  constructor(private readonly cfg: NeonApiConfig) {
    if (!cfg.apiKey) throw new Error("NEON_API_KEY is not set");
    if (!cfg.projectId) throw new Error("NEON_PROJECT_ID is not set");
    this.projectId = cfg.projectId;
    this.neon = createNeonClient({
      apiKey: cfg.apiKey,
      ...(cfg.baseUrl ? { baseUrl: cfg.baseUrl } : {}),
      ...(cfg.fetch ? { fetch: cfg.fetch } : {}),
      throwOnError: true,
      // Every mutation waits for its operations: callers see the branch or endpoint ready.
      waitForReadiness: true,
      retries: cfg.retries ?? 3,
      ...(cfg.wait ? { wait: cfg.wait } : {}),
    });
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw controlPlaneError(err, what);
    }
  }

  /** The project: id, name, region, Postgres version, history retention (no secrets in it). */
  project(): Promise<{
    id: string;
    name: string;
    regionId: string;
    pgVersion: number;
    historyRetentionSeconds: number;
  }> {
    return this.call("reading the project", async () => {
      const p = await this.neon.projects.get({ projectId: this.projectId });
      return {
        id: p.id,
        name: p.name,
        regionId: p.region_id,
        pgVersion: p.pg_version,
        historyRetentionSeconds: p.history_retention_seconds,
      };
    });
  }

  /** A branch's databases and their owners. */
  listDatabases(branchId: string): Promise<{ name: string; owner: string }[]> {
    return this.call(`listing databases of ${branchId}`, async () =>
      (await this.neon.postgres.databases.list({ projectId: this.projectId, branchId })).map((d) => ({
        name: d.name,
        owner: d.owner_name,
      })),
    );
  }

  /** A branch's roles, by name (their passwords are not fetched). */
  listRoles(branchId: string): Promise<{ name: string; protected: boolean }[]> {
    return this.call(`listing roles of ${branchId}`, async () =>
      (await this.neon.postgres.roles.list({ projectId: this.projectId, branchId })).map((r) => ({
        name: r.name,
        protected: r.protected ?? false,
      })),
    );
  }

  /**
   * A connection string for a branch's endpoint, from Neon (GET /connection_uri). A SECRET: it
   * holds the role's password. For scripts that must connect to a branch (e.g. a migration run on
   * a new branch); never logged, never put in a route's answer.
   */
  connectionString(opts: {
    branchId: string;
    endpointId?: string;
    database: string;
    role: string;
    pooled?: boolean;
  }): Promise<string> {
    return this.call(`reading a connection string of ${opts.branchId}`, () =>
      this.neon.postgres.connectionString({
        projectId: this.projectId,
        branchId: opts.branchId,
        ...(opts.endpointId ? { endpointId: opts.endpointId } : {}),
        databaseName: opts.database,
        roleName: opts.role,
        pooled: opts.pooled ?? false,
      }),
    );
  }

  listBranches(): Promise<BranchView[]> {
    return this.call("listing branches", async () => {
      const all = await this.neon.branches.list({ projectId: this.projectId }).all();
      return all.map(branchView);
    });
  }

  /** The branch with this name, or null. */
  async branchByName(name: string): Promise<BranchView | null> {
    return (await this.listBranches()).find((b) => b.name === name) ?? null;
  }

  getBranch(branchId: string): Promise<BranchView> {
    return this.call(`reading branch ${branchId}`, async () =>
      branchView(await this.neon.branches.get({ projectId: this.projectId, branchId })),
    );
  }

  /**
   * Creates a branch of `parentId` (a copy of its data now), with a read-write endpoint at
   * `endpoint`'s limits or none, and waits until it is ready.
   */
  createBranch(opts: {
    name: string;
    parentId: string;
    endpoint: EndpointLimits | null;
    expiresAt?: string;
  }): Promise<BranchView> {
    return this.call(`creating branch ${opts.name}`, async () => {
      const common = {
        projectId: this.projectId,
        name: opts.name,
        parent_id: opts.parentId,
        ...(opts.expiresAt ? { expires_at: opts.expiresAt } : {}),
      };
      const branch = opts.endpoint
        ? await this.neon.branches.create({
            ...common,
            compute: {
              minCu: opts.endpoint.autoscaling_limit_min_cu,
              maxCu: opts.endpoint.autoscaling_limit_max_cu,
              suspendTimeoutSeconds: opts.endpoint.suspend_timeout_seconds,
            },
          })
        : await this.neon.branches.create({ ...common, noCompute: true });
      // The create's answer shows the branch as it was before its operations ran: read it again.
      return branchView(await this.neon.branches.get({ projectId: this.projectId, branchId: branch.id }));
    });
  }

  deleteBranch(branchId: string): Promise<void> {
    return this.call(`deleting branch ${branchId}`, () =>
      this.neon.branches.delete({ projectId: this.projectId, branchId }),
    );
  }

  /**
   * Restores `branchId` to `source` (another branch's current state, or its own or another's
   * state at a point in time), keeping what it held under `preserveUnderName`; waits until done.
   */
  restoreBranch(
    branchId: string,
    source: { branchId: string; timestamp?: string },
    preserveUnderName: string,
  ): Promise<BranchView> {
    return this.call(`restoring branch ${branchId}`, async () => {
      const body = {
        source_branch_id: source.branchId,
        ...(source.timestamp ? { source_timestamp: source.timestamp } : {}),
        preserve_under_name: preserveUnderName,
      };
      const retries = this.cfg.retries ?? 3;
      for (let attempt = 0; ; attempt++) {
        const res = await restoreProjectBranch({
          client: this.neon.client,
          path: { project_id: this.projectId, branch_id: branchId },
          body,
        });
        if (res.error) {
          const status = "status" in res.error ? res.error.status : 0;
          // The SDK's wrappers retry these; its raw restore does not, so the same rule is here.
          if ((status === 423 || status === 429 || status === 503) && attempt < retries) {
            await new Promise((r) =>
              setTimeout(r, Math.min(10_000, 250 * 2 ** attempt) * (0.5 + Math.random())),
            );
            continue;
          }
          throw res.error;
        }
        await this.waitFor(res.data.operations);
        return branchView(await this.neon.branches.get({ projectId: this.projectId, branchId }));
      }
    });
  }

  async waitFor(operations: Operation[]): Promise<void> {
    if (!operations.length) return;
    await this.neon.operations.waitFor({ operations }, { ...this.cfg.wait });
  }

  listEndpoints(branchId?: string): Promise<EndpointView[]> {
    return this.call("listing endpoints", async () => {
      const list = branchId
        ? await this.neon.postgres.endpoints.listByBranch({ projectId: this.projectId, branchId })
        : await this.neon.postgres.endpoints.list({ projectId: this.projectId });
      return list.map(endpointView);
    });
  }

  /** A compute on a branch: `read_only` is a read replica of that branch's data (never a branch). */
  createEndpoint(branchId: string, type: "read_write" | "read_only", limits: Partial<EndpointLimits>) {
    return this.call(`creating a ${type} endpoint on ${branchId}`, async () => {
      const created = await this.neon.postgres.endpoints.create({
        projectId: this.projectId,
        branch_id: branchId,
        type,
        ...limits,
      });
      // As for branches: its state once its operations are done.
      return endpointView(
        await this.neon.postgres.endpoints.get({ projectId: this.projectId, endpointId: created.id }),
      );
    });
  }

  /** Sets an endpoint's autoscaling limits and suspend timeout (Neon's own field names). */
  updateEndpoint(endpointId: string, limits: Partial<EndpointLimits>): Promise<EndpointView> {
    return this.call(`updating endpoint ${endpointId}`, async () =>
      endpointView(
        await this.neon.postgres.endpoints.update({ projectId: this.projectId, endpointId, ...limits }),
      ),
    );
  }

  deleteEndpoint(endpointId: string): Promise<void> {
    return this.call(`deleting endpoint ${endpointId}`, () =>
      this.neon.postgres.endpoints.delete({ projectId: this.projectId, endpointId }),
    );
  }
}
