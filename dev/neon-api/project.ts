/**
 * The local Neon project: its branches, endpoints and operations, and what each API call does to
 * them. The HTTP side (api.ts) only parses and answers; everything that can conflict happens here.
 *
 * Operations are Neon's: a mutation is accepted at once with its operations `scheduling`, they
 * move to `running` while the work is done (a branch's copy, a restore) and end `finished`, or
 * `failed` with the error. A mutation touching a branch that a running operation touches gets 423
 * (Neon's "project already has running conflicting operations"), which the official clients retry.
 * A branch's endpoints are served by the local Neon endpoint (hosts.add) once its data is ready.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type {
  Branch,
  BranchCreateRequest,
  BranchRestoreRequest,
  Database,
  Endpoint,
  EndpointCreateRequest,
  EndpointType,
  EndpointUpdateRequest,
  Operation,
  OperationAction,
  OperationStatus,
  Role,
} from "@neon/sdk/raw";
import { isComputeSize } from "../../jobs/neon/policy";
import type { NeonEndpoint } from "../neon";
import { Authenticator } from "../neon/auth";
import { ownerRole } from "../neon/backend";
import type { BranchData, BranchStorage } from "./storage";

/** An API error with Neon's status and JSON body ({ code, message }). */
export class NeonApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = "",
  ) {
    super(message);
  }
}

const notFound = (what: string) => new NeonApiError(404, `${what} not found`, "");
/** An operation as the API shows it (without the branches it locks). */
const opView = ({ locks: _locks, ...op }: OperationRecord): Operation => op;
const LOCKED_MESSAGE = "project already has running conflicting operations, scheduling of some are delayed";

interface BranchRecord {
  id: string;
  name: string;
  parentId?: string;
  createdAt: string;
  updatedAt: string;
  protected: boolean;
  expiresAt?: string;
  isDefault: boolean;
  restoredFrom?: string;
  /** Absent until the copy is ready (and after a failed one). */
  data?: BranchData;
  /** The copy failed: the branch stays, unusable, as on Neon. */
  failed?: string;
}

interface EndpointRecord {
  id: string;
  branchId: string;
  type: EndpointType;
  minCu: number;
  maxCu: number;
  suspendTimeoutSeconds: number;
  name?: string;
  createdAt: string;
  updatedAt: string;
  /** Served by the local endpoint (its route is in the hosts table). */
  served: boolean;
  /** Its own port on the local endpoint (kept across restarts when free). */
  port?: number;
}

interface OperationRecord extends Operation {
  /** Branches it locks while it runs. */
  locks: string[];
}

export interface ProjectOptions {
  storage: BranchStorage;
  endpoint: NeonEndpoint;
  projectId: string;
  projectName: string;
  database: string;
  roles: Record<string, string>;
  mainBranchId: string;
  /** The endpoint's own id: the main branch's read-write endpoint. */
  mainEndpointId: string;
  /** The address clients reach endpoints at (no DNS here): each endpoint has a port of its own. */
  address: string;
  /** Branches, endpoints and their data's whereabouts are kept here across restarts. */
  stateFile?: string;
  log: (line: string) => void;
  now?: () => Date;
}

/** Neon-style ids: `br-<word>-<word>-<8 hex>`, `ep-...`. */
const WORDS = ["quiet", "bold", "misty", "frosty", "calm", "brave", "late", "young", "wild", "still"];
const NOUNS = ["river", "forest", "meadow", "sun", "moon", "wave", "field", "lake", "cloud", "hill"];
function neonId(prefix: string): string {
  const pick = (a: string[]) => a[randomBytes(1)[0]! % a.length]!;
  return `${prefix}-${pick(WORDS)}-${pick(NOUNS)}-${randomBytes(4).toString("hex")}`;
}

export class LocalNeonProject {
  private readonly branches = new Map<string, BranchRecord>();
  private readonly endpoints = new Map<string, EndpointRecord>();
  private readonly operations: OperationRecord[] = [];
  private readonly created: string;
  /** Work still running (close waits for it). */
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  /** What the API refused with 423 so far (tests see a client waited out an operation). */
  readonly stats = { locked: 0 };

  constructor(private readonly o: ProjectOptions) {
    this.created = this.now();
    this.branches.set(o.mainBranchId, {
      id: o.mainBranchId,
      name: "main",
      createdAt: this.created,
      updatedAt: this.created,
      protected: false,
      isDefault: true,
      data: o.storage.main,
    });
    this.endpoints.set(o.mainEndpointId, {
      id: o.mainEndpointId,
      branchId: o.mainBranchId,
      type: "read_write",
      minCu: 0.25,
      maxCu: 2,
      suspendTimeoutSeconds: 0,
      createdAt: this.created,
      updatedAt: this.created,
      served: true,
      port: o.endpoint.port,
    });
  }

  private now(): string {
    return (this.o.now?.() ?? new Date()).toISOString();
  }

  // ------------------------------------------------------------------ restart

  /** Brings back the branches and endpoints of an earlier run (their data is still there). */
  async load(): Promise<void> {
    if (!this.o.stateFile) return;
    let saved: { branches: BranchRecord[]; endpoints: EndpointRecord[] };
    try {
      saved = JSON.parse(readFileSync(this.o.stateFile, "utf8"));
    } catch {
      return; // first run
    }
    for (const b of saved.branches) {
      if (b.id === this.o.mainBranchId) {
        Object.assign(this.branches.get(b.id)!, { ...b, data: this.o.storage.main });
        continue;
      }
      const location = (b as BranchRecord & { location?: string }).location;
      const record: BranchRecord = { ...b, data: undefined };
      this.branches.set(b.id, record);
      if (!location) {
        record.failed ??= "its data was not ready when the local cloud stopped";
        continue;
      }
      try {
        record.data = await this.o.storage.reopen(b.id, location);
      } catch (err) {
        record.failed = `could not reopen its data: ${(err as Error).message}`;
        this.o.log(`neon api: branch ${b.name}: ${record.failed}`);
      }
    }
    for (const e of saved.endpoints) {
      if (e.id === this.o.mainEndpointId) {
        const main = this.endpoints.get(e.id)!;
        Object.assign(main, { ...e, served: true, port: this.o.endpoint.port });
        continue;
      }
      const record = { ...e, served: false };
      this.endpoints.set(e.id, record);
      await this.serve(record).catch((err: Error) =>
        this.o.log(`neon api: endpoint ${e.id} not served: ${err.message}`),
      );
    }
  }

  private save(): void {
    if (!this.o.stateFile) return;
    const branches = [...this.branches.values()].map(({ data, ...b }) => ({
      ...b,
      location: data?.location,
    }));
    const endpoints = [...this.endpoints.values()].map(({ served: _served, ...e }) => e);
    mkdirSync(dirname(this.o.stateFile), { recursive: true });
    const tmp = `${this.o.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ branches, endpoints }, null, 2));
    renameSync(tmp, this.o.stateFile);
  }

  // ------------------------------------------------------------------ views

  project() {
    const t = this.created;
    return {
      id: this.o.projectId,
      platform_id: "local",
      region_id: "local",
      name: this.o.projectName,
      provisioner: "k8s-neonvm",
      pg_version: 17,
      proxy_host: this.o.address,
      branch_logical_size_limit: 0,
      branch_logical_size_limit_bytes: 0,
      store_passwords: true,
      creation_source: "local",
      history_retention_seconds: 0,
      created_at: t,
      updated_at: t,
      owner_id: "local",
      active_time: 0,
      cpu_used_sec: 0,
      data_storage_bytes_hour: 0,
      data_transfer_bytes: 0,
      written_data_bytes: 0,
      compute_time_seconds: 0,
      active_time_seconds: 0,
      consumption_period_start: t,
      consumption_period_end: t,
      default_endpoint_settings: { autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 2 },
      settings: {},
    };
  }

  branchView(b: BranchRecord): Branch {
    const running = this.runningFor(b.id).length > 0;
    return {
      id: b.id,
      project_id: this.o.projectId,
      ...(b.parentId ? { parent_id: b.parentId, parent_timestamp: b.createdAt, parent_lsn: "0/0" } : {}),
      name: b.name,
      current_state: b.data && !running ? "ready" : "init",
      ...(running ? { pending_state: "ready" } : {}),
      state_changed_at: b.updatedAt,
      creation_source: "local",
      primary: b.isDefault,
      default: b.isDefault,
      protected: b.protected,
      cpu_used_sec: 0,
      compute_time_seconds: 0,
      active_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      created_at: b.createdAt,
      updated_at: b.updatedAt,
      ...(b.expiresAt ? { expires_at: b.expiresAt } : {}),
      ...(b.restoredFrom ? { restored_from: b.restoredFrom } : {}),
      init_source: "parent-data",
    };
  }

  endpointView(e: EndpointRecord): Endpoint {
    const branch = this.branches.get(e.branchId);
    const ready = e.served && !!branch?.data;
    return {
      host: this.hostOf(e),
      id: e.id,
      ...(e.name ? { name: e.name } : {}),
      project_id: this.o.projectId,
      branch_id: e.branchId,
      autoscaling_limit_min_cu: e.minCu,
      autoscaling_limit_max_cu: e.maxCu,
      region_id: "local",
      type: e.type,
      current_state: ready ? "active" : "init",
      ...(ready ? {} : { pending_state: "active" }),
      settings: {},
      pooler_enabled: false,
      pooler_mode: "transaction",
      disabled: false,
      passwordless_access: false,
      creation_source: "local",
      created_at: e.createdAt,
      updated_at: e.updatedAt,
      proxy_host: this.o.address,
      suspend_timeout_seconds: e.suspendTimeoutSeconds,
      provisioner: "k8s-neonvm",
    };
  }

  /**
   * An endpoint's host: the local address with its own port (Neon's is `ep-...<region>.neon.tech`;
   * here there is no DNS). Clients that append it to `postgresql://user:pw@` (neonctl) get a
   * working connection string; until it is served it has no port yet and is the bare address.
   */
  hostOf(e: EndpointRecord): string {
    return e.port === undefined ? this.o.address : `${this.o.address}:${e.port}`;
  }

  rolesOf(branchId: string): Role[] {
    const b = this.branch(branchId);
    return Object.keys(this.o.roles).map((name) => ({
      branch_id: b.id,
      name,
      protected: false,
      authentication_method: "password",
      created_at: b.createdAt,
      updated_at: b.createdAt,
    }));
  }

  databasesOf(branchId: string): Database[] {
    const b = this.branch(branchId);
    const owner = ownerRole(this.o.roles)!;
    return [
      {
        id: 1,
        branch_id: b.id,
        name: this.o.database,
        owner_name: owner,
        created_at: b.createdAt,
        updated_at: b.createdAt,
      },
    ];
  }

  listBranches(search?: string): Branch[] {
    return [...this.branches.values()]
      .filter((b) => !search || b.name.includes(search) || b.id.includes(search))
      .map((b) => this.branchView(b));
  }

  listEndpoints(branchId?: string): Endpoint[] {
    if (branchId !== undefined) this.branch(branchId);
    return [...this.endpoints.values()]
      .filter((e) => branchId === undefined || e.branchId === branchId)
      .map((e) => this.endpointView(e));
  }

  listOperations(): Operation[] {
    return [...this.operations].reverse().map(opView);
  }

  operation(id: string): Operation {
    const op = this.operations.find((o) => o.id === id);
    if (!op) throw notFound(`operation ${id}`);
    return opView(op);
  }

  branch(idOrName: string): BranchRecord {
    const b = this.branches.get(idOrName);
    if (!b) throw notFound(`branch ${idOrName}`);
    return b;
  }

  endpoint(id: string): EndpointRecord {
    const e = this.endpoints.get(id);
    if (!e) throw notFound(`endpoint ${id}`);
    return e;
  }

  revealPassword(branchId: string, role: string): string {
    this.branch(branchId);
    const password = Object.hasOwn(this.o.roles, role) ? this.o.roles[role] : undefined;
    if (password === undefined) throw notFound(`role ${role}`);
    return password;
  }

  /** A connection string for a branch's endpoint: its own address and port, so any client reaches it. */
  connectionUri(q: {
    branch_id?: string;
    endpoint_id?: string;
    database_name: string;
    role_name: string;
  }): string {
    const branchId = q.branch_id ?? this.o.mainBranchId;
    const b = this.branch(branchId);
    if (q.database_name !== this.o.database) throw notFound(`database ${q.database_name}`);
    const password = this.revealPassword(b.id, q.role_name);
    const e = q.endpoint_id
      ? this.endpoint(q.endpoint_id)
      : [...this.endpoints.values()].find((x) => x.branchId === b.id && x.type === "read_write");
    if (!e || e.branchId !== b.id) throw notFound(`read_write endpoint of branch ${b.id}`);
    if (!e.served)
      throw new NeonApiError(409, `endpoint ${e.id} is not running yet: wait for its operations`);
    return `postgresql://${encodeURIComponent(q.role_name)}:${encodeURIComponent(password)}@${this.hostOf(e)}/${encodeURIComponent(q.database_name)}`;
  }

  // ------------------------------------------------------------------ operations

  private runningFor(branchId: string): OperationRecord[] {
    return this.operations.filter(
      (o) => (o.status === "scheduling" || o.status === "running") && o.locks.includes(branchId),
    );
  }

  /** 423 if a running operation holds any of `branchIds`. */
  private checkUnlocked(branchIds: string[]): void {
    if (branchIds.some((id) => this.runningFor(id).length)) {
      this.stats.locked++;
      throw new NeonApiError(423, LOCKED_MESSAGE);
    }
  }

  private newOperation(
    action: OperationAction,
    branchId: string,
    locks: string[],
    endpointId?: string,
  ): OperationRecord {
    const t = this.now();
    const op: OperationRecord = {
      id: crypto.randomUUID(),
      project_id: this.o.projectId,
      branch_id: branchId,
      ...(endpointId ? { endpoint_id: endpointId } : {}),
      action,
      status: "scheduling",
      failures_count: 0,
      created_at: t,
      updated_at: t,
      total_duration_ms: 0,
      locks,
    };
    this.operations.push(op);
    if (this.operations.length > 1000) this.operations.splice(0, this.operations.length - 1000);
    return op;
  }

  private setStatus(ops: OperationRecord[], status: OperationStatus, error?: string): void {
    const t = this.now();
    for (const op of ops) {
      op.status = status;
      op.updated_at = t;
      op.total_duration_ms = Date.parse(t) - Date.parse(op.created_at);
      if (error) op.error = error;
    }
  }

  /** Runs `work` after the response: operations running, then finished or failed. */
  private schedule(ops: OperationRecord[], work: () => Promise<void>): void {
    const run = (async () => {
      await new Promise((r) => setImmediate(r)); // the response goes out with them scheduling
      this.setStatus(ops, "running");
      try {
        if (this.closed) throw new Error("the local Neon API is closing");
        await work();
        this.setStatus(ops, "finished");
      } catch (err) {
        const message = (err as Error).message;
        this.o.log(`neon api: operation ${ops[0]?.action} failed: ${message}`);
        this.setStatus(ops, "failed", message);
      } finally {
        this.save();
      }
    })();
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  // ------------------------------------------------------------------ mutations

  createBranch(req: BranchCreateRequest) {
    const spec = req.branch ?? {};
    if (spec.parent_lsn || spec.parent_timestamp) {
      throw new NeonApiError(
        400,
        "branching from a past LSN or timestamp is not available on the local Neon API (it keeps no history): branch from the parent's current state",
      );
    }
    const parent = this.branch(spec.parent_id ?? this.o.mainBranchId);
    if (!parent.data) throw new NeonApiError(409, `parent branch ${parent.id} has no data to branch from`);
    const name = spec.name ?? neonId("br").slice(3);
    this.checkNameFree(name);
    this.checkUnlocked([parent.id]);
    const t = this.now();
    const branch: BranchRecord = {
      id: neonId("br"),
      name,
      parentId: parent.id,
      createdAt: t,
      updatedAt: t,
      protected: spec.protected ?? false,
      expiresAt: spec.expires_at,
      isDefault: false,
    };
    const endpoints: EndpointRecord[] = (req.endpoints ?? []).map((e) => ({
      id: neonId("ep"),
      branchId: branch.id,
      type: e.type,
      minCu: e.autoscaling_limit_min_cu ?? 0.25,
      maxCu: e.autoscaling_limit_max_cu ?? e.autoscaling_limit_min_cu ?? 0.25,
      suspendTimeoutSeconds: e.suspend_timeout_seconds ?? 0,
      createdAt: t,
      updatedAt: t,
      served: false,
    }));
    for (const e of endpoints) this.checkLimits(e.minCu, e.maxCu);
    if (endpoints.filter((e) => e.type === "read_write").length > 1) {
      throw new NeonApiError(400, "a branch can have only one read_write endpoint");
    }
    this.branches.set(branch.id, branch);
    for (const e of endpoints) this.endpoints.set(e.id, e);
    const ops = [
      this.newOperation("create_branch", branch.id, [branch.id, parent.id]),
      ...endpoints.map((e) => this.newOperation("start_compute", branch.id, [branch.id], e.id)),
    ];
    this.schedule(ops, async () => {
      try {
        branch.data = await this.o.storage.fork(parent.data!, branch.id);
      } catch (err) {
        branch.failed = (err as Error).message;
        throw err;
      }
      branch.updatedAt = this.now();
      for (const e of endpoints) await this.serve(e);
    });
    this.save();
    return {
      branch: this.branchView(branch),
      endpoints: endpoints.map((e) => this.endpointView(e)),
      operations: ops.map(opView),
      roles: this.rolesOf(branch.id),
      databases: this.databasesOf(branch.id),
      connection_uris: [],
    };
  }

  updateBranch(branchId: string, patch: { name?: string; protected?: boolean; expires_at?: string | null }) {
    const b = this.branch(branchId);
    if (patch.name !== undefined && patch.name !== b.name) {
      this.checkNameFree(patch.name);
      b.name = patch.name;
    }
    if (patch.protected !== undefined) b.protected = patch.protected;
    if (patch.expires_at !== undefined) b.expiresAt = patch.expires_at ?? undefined;
    b.updatedAt = this.now();
    this.save();
    return { branch: this.branchView(b), operations: [] };
  }

  deleteBranch(branchId: string) {
    const b = this.branch(branchId);
    if (b.isDefault) throw new NeonApiError(400, "cannot delete the project's default branch");
    if (b.protected) throw new NeonApiError(400, "cannot delete a protected branch");
    const children = [...this.branches.values()].filter((x) => x.parentId === b.id);
    if (children.length) {
      throw new NeonApiError(
        400,
        `branch ${b.id} has child branches (${children.map((c) => c.name).join(", ")}): delete them first`,
      );
    }
    this.checkUnlocked([b.id]);
    const mine = [...this.endpoints.values()].filter((e) => e.branchId === b.id);
    const ops = [
      ...mine.map((e) => this.newOperation("suspend_compute", b.id, [b.id], e.id)),
      this.newOperation("delete_timeline", b.id, [b.id]),
    ];
    const view = this.branchView(b);
    this.schedule(ops, async () => {
      for (const e of mine) await this.unserve(e);
      if (b.data) await this.o.storage.drop(b.data);
      for (const e of mine) this.endpoints.delete(e.id);
      this.branches.delete(b.id);
    });
    return { branch: view, operations: ops.map(opView) };
  }

  restoreBranch(branchId: string, req: BranchRestoreRequest) {
    const target = this.branch(branchId);
    if (req.source_lsn || req.source_timestamp) {
      throw new NeonApiError(
        400,
        "point-in-time restore is not available on the local Neon API (it keeps no history): restore from a branch (source_branch_id without source_timestamp/source_lsn)",
      );
    }
    const source = this.branch(req.source_branch_id);
    if (source.id === target.id)
      throw new NeonApiError(400, "a branch cannot be restored from itself without a point in time");
    if (!target.data || !source.data) throw new NeonApiError(409, "both branches must be ready");
    const hasChildren = [...this.branches.values()].some((x) => x.parentId === target.id);
    if (hasChildren && !req.preserve_under_name) {
      throw new NeonApiError(
        400,
        "the branch has children: restoring it needs preserve_under_name (its current state is kept under that name)",
      );
    }
    const preservedName = req.preserve_under_name;
    if (preservedName) this.checkNameFree(preservedName);
    this.checkUnlocked([target.id, source.id]);
    const t = this.now();
    const preserved: BranchRecord = {
      id: neonId("br"),
      name: preservedName ?? `${target.name}_old_${t.replace(/[-:.]/g, "")}`,
      parentId: target.parentId,
      createdAt: t,
      updatedAt: t,
      protected: false,
      isDefault: false,
    };
    this.branches.set(preserved.id, preserved);
    const ops = [this.newOperation("create_branch", target.id, [target.id, source.id, preserved.id])];
    this.schedule(ops, async () => {
      preserved.data = await this.o.storage.restore(target.data!, source.data!, preserved.id);
      // The children of the old state stay with it, as on Neon.
      for (const c of this.branches.values()) {
        if (c.parentId === target.id && c.id !== preserved.id) c.parentId = preserved.id;
      }
      target.restoredFrom = source.id;
      target.updatedAt = this.now();
      if (!preservedName) {
        // Without a name Neon keeps nothing; here the old data is dropped once restored.
        await this.o.storage.drop(preserved.data);
        this.branches.delete(preserved.id);
      }
    });
    this.save();
    return { branch: this.branchView(target), operations: ops.map(opView) };
  }

  /** 409 if a branch already has this name (Neon's names are unique in a project). */
  private checkNameFree(name: string): void {
    if ([...this.branches.values()].some((b) => b.name === name)) {
      throw new NeonApiError(409, `branch with name "${name}" already exists`, "BRANCH_ALREADY_EXISTS");
    }
  }

  private checkLimits(min: number, max: number): void {
    if (!isComputeSize(min) || !isComputeSize(max)) {
      throw new NeonApiError(
        400,
        `compute size must be 0.25, 0.5 or a whole number from 1 to 56 (got ${min}–${max})`,
      );
    }
    if (min > max)
      throw new NeonApiError(400, "autoscaling_limit_min_cu must not exceed autoscaling_limit_max_cu");
    if (max - min > 8) throw new NeonApiError(400, "the autoscaling range (max − min) must not exceed 8 CU");
  }

  createEndpoint(req: EndpointCreateRequest["endpoint"]) {
    const b = this.branch(req.branch_id);
    const min = req.autoscaling_limit_min_cu ?? 0.25;
    const max = req.autoscaling_limit_max_cu ?? Math.max(min, 0.25);
    this.checkLimits(min, max);
    if (
      req.type === "read_write" &&
      [...this.endpoints.values()].some((e) => e.branchId === b.id && e.type === "read_write")
    ) {
      throw new NeonApiError(400, `branch ${b.id} already has a read_write endpoint`);
    }
    this.checkUnlocked([b.id]);
    const t = this.now();
    const e: EndpointRecord = {
      id: neonId("ep"),
      branchId: b.id,
      type: req.type,
      minCu: min,
      maxCu: max,
      suspendTimeoutSeconds: req.suspend_timeout_seconds ?? 0,
      name: req.name,
      createdAt: t,
      updatedAt: t,
      served: false,
    };
    this.endpoints.set(e.id, e);
    const ops = [this.newOperation("start_compute", b.id, [b.id], e.id)];
    this.schedule(ops, async () => {
      if (!b.data) throw new Error(`branch ${b.id} has no data`);
      await this.serve(e);
    });
    this.save();
    return { endpoint: this.endpointView(e), operations: ops.map(opView) };
  }

  updateEndpoint(endpointId: string, patch: EndpointUpdateRequest["endpoint"]) {
    const e = this.endpoint(endpointId);
    if (patch.branch_id !== undefined && patch.branch_id !== e.branchId) {
      throw new NeonApiError(
        400,
        "moving an endpoint to another branch is not supported by the local Neon API",
      );
    }
    const min = patch.autoscaling_limit_min_cu ?? e.minCu;
    const max = patch.autoscaling_limit_max_cu ?? e.maxCu;
    this.checkLimits(min, max);
    this.checkUnlocked([e.branchId]);
    e.minCu = min;
    e.maxCu = max;
    if (patch.suspend_timeout_seconds !== undefined) e.suspendTimeoutSeconds = patch.suspend_timeout_seconds;
    if (patch.name !== undefined) e.name = patch.name;
    e.updatedAt = this.now();
    const ops = [this.newOperation("apply_config", e.branchId, [e.branchId], e.id)];
    this.schedule(ops, async () => {});
    this.save();
    return { endpoint: this.endpointView(e), operations: ops.map(opView) };
  }

  deleteEndpoint(endpointId: string) {
    const e = this.endpoint(endpointId);
    if (e.id === this.o.mainEndpointId) {
      throw new NeonApiError(400, "the local endpoint's own compute cannot be deleted");
    }
    this.checkUnlocked([e.branchId]);
    const view = this.endpointView(e);
    const ops = [this.newOperation("suspend_compute", e.branchId, [e.branchId], e.id)];
    this.endpoints.delete(e.id);
    this.schedule(ops, () => this.unserve(e));
    return { endpoint: view, operations: ops.map(opView) };
  }

  // ------------------------------------------------------------------ serving

  private async serve(e: EndpointRecord): Promise<void> {
    const b = this.branches.get(e.branchId);
    if (!b?.data || e.served) return;
    const backend = e.type === "read_only" ? b.data.backend.readOnlyView() : b.data.backend;
    const physical = this.o.storage.kind === "postgres" ? b.data.location : undefined;
    const route = {
      endpointId: e.id,
      auth: new Authenticator(this.o.roles, this.o.database, physical),
      backend,
    };
    // The port it had before a restart, if it is still free.
    e.port = await this.o.endpoint
      .serveEndpoint(route, e.port ?? 0)
      .catch(() => this.o.endpoint.serveEndpoint(route, 0));
    e.served = true;
  }

  private async unserve(e: EndpointRecord): Promise<void> {
    if (e.served && e.id !== this.o.mainEndpointId) await this.o.endpoint.stopServing(e.id);
    e.served = false;
  }

  /** Waits for running work, then closes every branch's data it opened (not the main branch's). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    for (const e of this.endpoints.values()) await this.unserve(e);
    for (const b of this.branches.values()) {
      if (b.data && b.data !== this.o.storage.main) await b.data.backend.close().catch(() => {});
    }
  }

  /** Tests: drop every branch's data (not the main branch's), e.g. their databases on postgres. */
  async dropAll(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    for (const e of this.endpoints.values()) await this.unserve(e);
    for (const b of this.branches.values()) {
      if (b.data && b.data !== this.o.storage.main) {
        const data = b.data;
        b.data = undefined;
        await this.o.storage.drop(data).catch((err: Error) => this.o.log(`neon api: drop: ${err.message}`));
      }
    }
  }
}
