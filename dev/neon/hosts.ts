/**
 * Which endpoint a connection is for, as Neon's proxy decides it: one table of endpoint hosts.
 *
 * Neon serves every endpoint of a region behind one proxy and tells them apart by host name:
 * `ep-<name>[-pooler].<region>.aws.neon.tech` over TLS (SNI), the connection string's host in
 * the Neon-Connection-String header over HTTP, the WebSocket's address. A client without SNI names
 * the endpoint in the startup's `options` (`endpoint=<id>`) or in front of its password
 * (`endpoint=<id>;<password>` or `endpoint=<id>$<password>`). A connection for an endpoint the
 * proxy does not know fails as a login does: `password authentication failed for user "<user>"`
 * (28P01), so nothing tells a prober which endpoints exist.
 *
 * Here the endpoint starts with one route, its own (the database it was started with), reached by
 * the local names (localhost, 127.0.0.1, [::1], the listening name, `allowedHosts`) and by its
 * endpoint id; the control plane adds a route per branch endpoint (its own backend and roles) with
 * `add`. A host whose first label, without `-pooler`, is a known endpoint id goes to that endpoint,
 * as on Neon. Plain TCP carries no host (no TLS here, so no SNI): it reaches the endpoint's own
 * route unless its options or password name another. A local name stands for no endpoint in
 * particular (a machine without DNS has no other name for this one port), so an endpoint named
 * in the options or password wins over it: `postgresql://u:p@127.0.0.1:4444/db?options=endpoint%3D<id>`
 * reaches that endpoint over HTTP, WebSocket and TCP alike. Only a host that names an endpoint
 * itself conflicts with options naming another (08P01, as on Neon).
 *
 * An endpoint may also have a port of its own (`add(route, hosts, port)`: the control plane gives
 * each branch endpoint one, dev/neon-api), so a plain `postgresql://u:p@127.0.0.1:<port>/db`
 * reaches it with any client and no DNS: a local name with that port (a connection string's host,
 * a WebSocket's address, the port a TCP connection came in on) names that endpoint as a host would.
 */
import type { Authenticator } from "./auth";
import { authError } from "./auth";
import type { Backend } from "./backend";
import { hostName } from "./origin-check";
import type { PgErrorFields } from "./protocol";

/** One endpoint behind the local proxy: its id, who may log in, and where its SQL runs. */
export interface EndpointRoute {
  endpointId: string;
  auth: Authenticator;
  backend: Backend;
}

/** What a client said about itself at login. */
export interface LoginRequest {
  /**
   * The host the client asked for, with its port if it gave one: the connection string's (HTTP),
   * the WebSocket's address; absent over plain TCP.
   */
  host?: string;
  /** Plain TCP: the port the connection came in on. */
  port?: number;
  user: string;
  password: string;
  database: string;
  /** The startup's `options` parameter, which may name the endpoint. */
  options?: string;
}

export type Login =
  | {
      ok: true;
      route: EndpointRoute;
      role: string;
      database: string;
      /** `options` without the endpoint name (the rest goes on to the backend); absent if empty. */
      options?: string;
    }
  | { ok: false; error: PgErrorFields };

const ENDPOINT_OPTION = /^(?:endpoint|project)=(.+)$/;
const ENDPOINT_PASSWORD = /^(?:endpoint|project)=([^;$]+)[;$]([\s\S]*)$/;

export class EndpointHosts {
  private readonly routes = new Map<string, EndpointRoute>();
  private readonly byHost = new Map<string, string>();
  private readonly byPort = new Map<number, string>();
  private readonly cache = new Map<string, Login>();
  /** The endpoint's own local names: they name no endpoint in particular (see the header). */
  private readonly localNames: Set<string>;

  constructor(
    readonly main: EndpointRoute,
    hosts: readonly string[],
  ) {
    this.add(main, hosts);
    this.localNames = new Set(hosts.map(hostName));
  }

  /** Serves `route` under its endpoint id, the given host names (any port) and its own `port`. */
  add(route: EndpointRoute, hosts: readonly string[] = [], port?: number): void {
    const id = route.endpointId.toLowerCase();
    const existing = this.routes.get(id);
    if (existing && existing !== route) throw new Error(`endpoint ${route.endpointId} is already served`);
    if (port !== undefined) {
      const owner = this.byPort.get(port);
      if (owner !== undefined && owner !== id)
        throw new Error(`port ${port} already belongs to endpoint ${owner}`);
      this.byPort.set(port, id);
    }
    for (const h of hosts) {
      const name = hostName(h);
      const owner = this.byHost.get(name);
      if (owner !== undefined && owner !== id)
        throw new Error(`host ${name} already belongs to endpoint ${owner}`);
    }
    this.routes.set(id, route);
    for (const h of hosts) this.byHost.set(hostName(h), id);
    this.cache.clear();
  }

  /** Stops serving an endpoint (not the endpoint's own route); its backend is the caller's. */
  remove(endpointId: string): boolean {
    const id = endpointId.toLowerCase();
    if (this.routes.get(id) === this.main) throw new Error("the endpoint's own route cannot be removed");
    if (!this.routes.delete(id)) return false;
    for (const [h, owner] of this.byHost) if (owner === id) this.byHost.delete(h);
    for (const [p, owner] of this.byPort) if (owner === id) this.byPort.delete(p);
    this.cache.clear();
    return true;
  }

  /** Every endpoint served, with its host names (and its own port, if it has one). */
  list(): { endpointId: string; hosts: string[]; port?: number }[] {
    return [...this.routes.values()].map((r) => {
      const id = r.endpointId.toLowerCase();
      const port = [...this.byPort].find(([, owner]) => owner === id)?.[0];
      return {
        endpointId: r.endpointId,
        hosts: [...this.byHost].filter(([, owner]) => owner === id).map(([h]) => h),
        ...(port === undefined ? {} : { port }),
      };
    });
  }

  /** Every route served (the endpoint's own first). */
  routesServed(): EndpointRoute[] {
    return [...this.routes.values()];
  }

  /** The endpoint a host name stands for: a listed host, or `ep-...[-pooler].anything`. */
  byHostName(host: string): EndpointRoute | undefined {
    const name = hostName(host);
    const listed = this.byHost.get(name);
    if (listed !== undefined) return this.routes.get(listed);
    const label = name.split(".")[0]!.replace(/-pooler$/, "");
    return this.routes.get(label);
  }

  /**
   * Picks the endpoint and checks the credentials against it. Unknown endpoint: the login fails
   * as a wrong password does (28P01).
   */
  login(req: LoginRequest): Login {
    let password = req.password;
    let named: string | undefined;
    const inPassword = ENDPOINT_PASSWORD.exec(password);
    if (inPassword) {
      named = inPassword[1];
      password = inPassword[2]!;
    }
    let rest: string | undefined;
    if (req.options !== undefined) {
      const kept: string[] = [];
      for (const token of req.options.trim().split(/\s+/)) {
        const m = ENDPOINT_OPTION.exec(token);
        if (m) named ??= m[1];
        else if (token) kept.push(token);
      }
      rest = kept.length ? kept.join(" ") : undefined;
    }
    const refused: Login = {
      ok: false,
      error: authError("28P01", `password authentication failed for user "${req.user}"`),
    };
    // A local name (or none) says nothing by itself; with an endpoint's own port it names that one.
    const portOf = req.host === undefined ? req.port : /:(\d+)$/.exec(req.host.trim())?.[1];
    const portOwner = portOf === undefined ? undefined : this.byPort.get(Number(portOf));
    const byPort = portOwner === undefined ? undefined : this.routes.get(portOwner);
    const local = req.host === undefined || this.localNames.has(hostName(req.host));
    const byHost = local
      ? (byPort ?? (req.host === undefined ? undefined : this.main))
      : this.byHostName(req.host!);
    if (req.host !== undefined && !byHost) return refused;
    const weak = local && byPort === undefined;
    const byName = named === undefined ? undefined : this.routes.get(named.toLowerCase());
    if (named !== undefined && !byName) return refused;
    if (byHost && byName && byHost !== byName && !weak) {
      return {
        ok: false,
        error: authError(
          "08P01",
          `Inconsistent project name inferred from SNI ('${byHost.endpointId}') and project option ('${byName.endpointId}')`,
        ),
      };
    }
    const route = (weak ? byName : byHost) ?? byName ?? byHost ?? this.main;
    const checked = route.auth.check(req.user, password, req.database);
    if (!checked.ok) return checked;
    return { ok: true, route, role: checked.role, database: checked.database, options: rest };
  }

  /** A Neon-Connection-String header's login (cached: the driver sends the same string each time). */
  fromConnectionString(connectionString: string): Login {
    const hit = this.cache.get(connectionString);
    if (hit) return hit;
    let result: Login;
    try {
      const url = new URL(connectionString);
      if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw new Error("scheme");
      const user = decodeURIComponent(url.username);
      const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
      if (!user || !database || !url.hostname) throw new Error("missing user, host or database");
      result = this.login({
        host: url.host,
        user,
        password: decodeURIComponent(url.password),
        database,
        options: url.searchParams.get("options") ?? undefined,
      });
    } catch {
      result = { ok: false, error: authError("08P01", "invalid Neon-Connection-String header") };
    }
    // Bounded: a client rotating strings must not grow memory without limit.
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(connectionString, result);
    return result;
  }
}
