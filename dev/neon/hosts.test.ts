/** The hosts table's routing and the PGlite startup-option parser: pure logic, no database. */
import { describe, expect, it } from "vitest";
import { Authenticator } from "./auth";
import type { Backend } from "./backend";
import { startupSettings } from "./backend-pglite";
import { EndpointHosts } from "./hosts";

const backend = { kind: "pglite" } as unknown as Backend; // never called: routing only
const route = (endpointId: string, password: string) => ({
  endpointId,
  auth: new Authenticator({ app: password }, "db"),
  backend,
});

describe("EndpointHosts", () => {
  const main = route("ep-main-1", "pw");
  const hosts = new EndpointHosts(main, ["localhost", "127.0.0.1", "[::1]"]);
  const login = (over: Partial<Parameters<EndpointHosts["login"]>[0]>) =>
    hosts.login({ user: "app", password: "pw", database: "db", ...over });

  it("routes by listed host, by endpoint id as first label (with -pooler), and TCP without a host to its own", () => {
    for (const host of [
      "localhost",
      "LOCALHOST.",
      "[::1]",
      "ep-main-1.us-east-2.aws.neon.tech",
      "ep-main-1-pooler.x",
      undefined,
    ]) {
      const r = login({ host });
      expect(r.ok && r.route.endpointId).toBe("ep-main-1");
    }
  });

  it("refuses an unknown endpoint as a failed login, whichever way it is named", () => {
    const refused = {
      ok: false,
      error: { code: "28P01", message: 'password authentication failed for user "app"' },
    };
    expect(login({ host: "ep-other-2.aws.neon.tech" })).toMatchObject(refused);
    expect(login({ options: "endpoint=ep-other-2" })).toMatchObject(refused);
    expect(login({ password: "endpoint=ep-other-2;pw" })).toMatchObject(refused);
    expect(login({ host: "example.com" })).toMatchObject(refused);
  });

  it("takes the endpoint out of options and password, keeping the rest", () => {
    const r = login({
      options: "-c search_path=x endpoint=ep-main-1  --lock_timeout=1s",
      password: "endpoint=ep-main-1$pw",
    });
    expect(r).toMatchObject({ ok: true, role: "app", options: "-c search_path=x --lock_timeout=1s" });
    expect(login({ options: "endpoint=ep-main-1" })).toMatchObject({ ok: true, options: undefined });
  });

  it("routes a local name with an endpoint's own port to it, over TCP by the port it came in on", () => {
    const own = route("ep-own-port-5", "pw5");
    hosts.add(own, [], 5555);
    try {
      expect(() => hosts.add(route("ep-other-6", "x"), [], 5555)).toThrow(/already belongs/);
      for (const req of [{ host: "127.0.0.1:5555" }, { host: "localhost:5555" }, { port: 5555 }]) {
        expect(login({ ...req, password: "pw5" })).toMatchObject({ ok: true, route: own });
      }
      // The endpoint's own port (not registered) and a local name without a port: its own route.
      expect(login({ host: "127.0.0.1:4444" })).toMatchObject({ ok: true, route: main });
      expect(login({ port: 4444 })).toMatchObject({ ok: true, route: main });
      // A port names its endpoint as a host would: options naming another conflict.
      expect(login({ host: "127.0.0.1:5555", password: "pw5", options: "endpoint=ep-main-1" })).toMatchObject(
        {
          ok: false,
          error: { code: "08P01" },
        },
      );
      expect(hosts.fromConnectionString("postgresql://app:pw5@127.0.0.1:5555/db")).toMatchObject({
        ok: true,
        route: own,
      });
      expect(hosts.list().find((e) => e.endpointId === "ep-own-port-5")).toEqual({
        endpointId: "ep-own-port-5",
        hosts: [],
        port: 5555,
      });
    } finally {
      hosts.remove("ep-own-port-5");
    }
    expect(login({ port: 5555 })).toMatchObject({ ok: true, route: main });
  });

  it("adds and removes endpoints, refuses a host owned by another, and flags inconsistent names", () => {
    const second = route("ep-second-3", "pw2");
    hosts.add(second, ["branch.local"]);
    expect(() => hosts.add(route("ep-third-4", "x"), ["branch.local"])).toThrow(/already belongs/);
    expect(hosts.fromConnectionString("postgresql://app:pw2@branch.local:5432/db")).toMatchObject({
      ok: true,
      route: second,
    });
    expect(hosts.fromConnectionString("postgresql://app:pw@branch.local:5432/db")).toMatchObject({
      ok: false,
      error: { code: "28P01" },
    });
    // A local name names no endpoint: the options choose. A host naming one conflicts (08P01).
    expect(login({ host: "localhost", password: "pw2", options: "endpoint=ep-second-3" })).toMatchObject({
      ok: true,
      route: second,
    });
    expect(login({ host: "ep-main-1.x", password: "pw2", options: "endpoint=ep-second-3" })).toMatchObject({
      ok: false,
      error: { code: "08P01" },
    });
    expect(hosts.remove("ep-second-3")).toBe(true);
    expect(hosts.fromConnectionString("postgresql://app:pw2@branch.local:5432/db")).toMatchObject({
      ok: false,
    });
    expect(() => hosts.remove("ep-main-1")).toThrow();
    expect(hosts.list()).toEqual([{ endpointId: "ep-main-1", hosts: ["localhost", "127.0.0.1", "[::1]"] }]);
  });

  it("answers a malformed connection string with 08P01", () => {
    expect(hosts.fromConnectionString("mysql://x")).toMatchObject({ ok: false, error: { code: "08P01" } });
    expect(hosts.fromConnectionString("postgresql://@localhost/db")).toMatchObject({
      ok: false,
      error: { code: "08P01" },
    });
  });
});

describe("startupSettings (PGlite)", () => {
  it("reads -c, -cname, --name and other startup parameters, with backslash-escaped spaces", () => {
    expect(
      startupSettings({
        application_name: "psql",
        client_encoding: "UTF8",
        DateStyle: "ISO",
        options: "-c search_path=a\\ b -cwork_mem=4MB --lock-timeout=1s",
      }),
    ).toEqual([
      ["DateStyle", "ISO"],
      ["search_path", "a b"],
      ["work_mem", "4MB"],
      ["lock_timeout", "1s"],
    ]);
  });

  it("refuses identity settings, replication and malformed options", () => {
    expect(startupSettings({ options: "-c role=postgres" })).toMatch(/permission denied/);
    expect(startupSettings({ options: "-c Session_Authorization=postgres" })).toMatch(/permission denied/);
    expect(startupSettings({ replication: "database" })).toMatch(/replication/);
    expect(startupSettings({ options: "-x" })).toMatch(/invalid command-line argument/);
    expect(startupSettings({ options: "-c nothing" })).toMatch(/invalid command-line argument/);
  });
});
