/**
 * The local Neon API v2 (the control plane's subset: projects, branches, endpoints, operations,
 * roles, databases, connection_uri, branch restore), served under /api/v2 on the local Neon
 * endpoint's port. A branch is a real copy of its parent's data (storage.ts); each endpoint gets a
 * port of its own on the endpoint, so `postgresql://user:pw@127.0.0.1:<port>/db` reaches that
 * branch over HTTP, WebSocket and TCP without DNS; read_only endpoints refuse writes (25006).
 * The official clients (@neon/sdk, @neondatabase/api-client, neonctl) talk to it with `baseUrl` /
 * `baseURL` / `--api-host` set to `url`. See README.md beside this file.
 */
import { getRequestListener } from "@hono/node-server";
import { LOCAL } from "../config";
import type { NeonEndpoint } from "../neon";
import type { PgliteBackend } from "../neon/backend-pglite";
import type { PostgresBackend } from "../neon/backend-postgres";
import { neonApiApp } from "./api";
import { LocalNeonProject } from "./project";
import { type BranchStorage, pgliteStorage, postgresStorage } from "./storage";

export interface NeonApiOptions {
  endpoint: NeonEndpoint;
  /** The endpoint's database (the name clients use on every branch). */
  database: string;
  /** The superuser URL the endpoint's postgres backend uses; absent on PGlite. */
  postgresUrl?: string;
  /** The endpoint's PGlite data dir ("memory://" in tests): branches go beside it. */
  dataDir?: string;
  /** name → password; default LOCAL.roles (every branch has the same roles, as Neon copies them). */
  roles?: Record<string, string>;
  /** default LOCAL.neonApi.key */
  apiKey?: string;
  /** default LOCAL.neonApi.projectId */
  projectId?: string;
  /** Keep branches and endpoints across restarts (`npm run dev`); absent: forgotten at close. */
  stateFile?: string;
  requestTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface NeonApi {
  /** http://127.0.0.1:PORT/api/v2: the clients' base URL. */
  url: string;
  apiKey: string;
  projectId: string;
  mainBranchId: string;
  project: LocalNeonProject;
  /** Stops serving branch endpoints and closes their data (kept on disk / in their databases). */
  close(): Promise<void>;
  /** Tests: also deletes every branch's data (their databases on postgres). */
  closeAndDrop(): Promise<void>;
}

export async function startNeonApi(opts: NeonApiOptions): Promise<NeonApi> {
  const roles = opts.roles ?? LOCAL.roles;
  const log = opts.log ?? ((line: string) => console.error(line));
  const apiKey = opts.apiKey ?? LOCAL.neonApi.key;
  const projectId = opts.projectId ?? LOCAL.neonApi.projectId;
  const main = opts.endpoint.hosts.main.backend;
  const storageOptions = {
    database: opts.database,
    roles,
    log,
    requestTimeoutMs: opts.requestTimeoutMs,
  };
  let storage: BranchStorage;
  if (main.kind === "postgres") {
    if (!opts.postgresUrl)
      throw new Error("the postgres backend's superuser URL (postgresUrl) is needed to branch");
    storage = postgresStorage(main as PostgresBackend, opts.postgresUrl, storageOptions);
  } else {
    storage = pgliteStorage(main as PgliteBackend, opts.dataDir ?? "memory://", storageOptions);
  }
  const address = new URL(opts.endpoint.url).hostname;
  const project = new LocalNeonProject({
    storage,
    endpoint: opts.endpoint,
    projectId,
    projectName: LOCAL.neonApi.projectName,
    database: opts.database,
    roles,
    mainBranchId: LOCAL.neonApi.mainBranchId,
    mainEndpointId: opts.endpoint.hosts.main.endpointId,
    address,
    stateFile: opts.stateFile,
    log,
  });
  await project.load();
  const app = neonApiApp({ project, projectId, apiKey, log });
  opts.endpoint.mount("/api/v2", getRequestListener(app.fetch));
  return {
    url: `${opts.endpoint.url}/api/v2`,
    apiKey,
    projectId,
    mainBranchId: LOCAL.neonApi.mainBranchId,
    project,
    close: () => project.close(),
    async closeAndDrop() {
      await project.dropAll();
      await project.close();
    },
  };
}
