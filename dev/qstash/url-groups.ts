/** URL groups (QStash's /v2/topics): a name and its endpoints; a publish to the name fans out. */
import { compact } from "./payload";
import { isHttpUrl, SpecError } from "./spec";

export interface Endpoint {
  name?: string;
  url: string;
}

interface UrlGroupRecord {
  name: string;
  createdAt: number;
  updatedAt: number;
  endpoints: Endpoint[];
}

const NAME = /^[A-Za-z0-9._-]+$/;

export class UrlGroups {
  private readonly groups = new Map<string, UrlGroupRecord>();

  /** Creates the group if new; an endpoint whose URL is already there is not added twice. */
  addEndpoints(name: string, endpoints: unknown, now: number): void {
    if (!NAME.test(name))
      throw new SpecError("url group name may only contain alphanumerics, hyphen, underscore and period");
    const list = validEndpoints(endpoints, true);
    const group = this.groups.get(name) ?? { name, createdAt: now, updatedAt: now, endpoints: [] };
    for (const endpoint of list) {
      const existing = group.endpoints.find((candidate) => candidate.url === endpoint.url);
      if (existing) existing.name = endpoint.name ?? existing.name;
      else group.endpoints.push(compact({ name: endpoint.name, url: endpoint.url }) as Endpoint);
    }
    group.updatedAt = now;
    this.groups.set(name, group);
  }

  /** Removes the endpoints that match by name or URL. False if there is no such group. */
  removeEndpoints(name: string, endpoints: unknown, now: number): boolean {
    const group = this.groups.get(name);
    if (!group) return false;
    const list = validEndpoints(endpoints, false);
    group.endpoints = group.endpoints.filter(
      (endpoint) =>
        !list.some(
          (gone) =>
            (gone.url !== undefined && gone.url === endpoint.url) ||
            (gone.name !== undefined && gone.name === endpoint.name),
        ),
    );
    group.updatedAt = now;
    return true;
  }

  get(name: string): UrlGroupRecord | undefined {
    const group = this.groups.get(name);
    return group && { ...group, endpoints: group.endpoints.map((endpoint) => ({ ...endpoint })) };
  }

  list(): UrlGroupRecord[] {
    return [...this.groups.keys()].map((name) => this.get(name)!);
  }

  delete(name: string): boolean {
    return this.groups.delete(name);
  }
}

function validEndpoints(value: unknown, urlRequired: boolean): { name?: string; url?: string }[] {
  const endpoints = (value as { endpoints?: unknown } | undefined)?.endpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0) throw new SpecError("endpoints are required");
  return endpoints.map((endpoint: { name?: unknown; url?: unknown }) => {
    const name = typeof endpoint?.name === "string" && endpoint.name !== "" ? endpoint.name : undefined;
    const url = typeof endpoint?.url === "string" && endpoint.url !== "" ? endpoint.url : undefined;
    if (url !== undefined && !isHttpUrl(url)) throw new SpecError(`invalid endpoint url: ${url}`);
    if (urlRequired && url === undefined) throw new SpecError("every endpoint needs a url");
    if (url === undefined && name === undefined) throw new SpecError("every endpoint needs a name or a url");
    return { name, url };
  });
}
