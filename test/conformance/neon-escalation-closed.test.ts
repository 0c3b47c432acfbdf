/**
 * The endpoint fails closed. After every unit of work it checks that the session is still the
 * role it authenticated (current_user, session_user) and that the role's attributes and
 * memberships are what they were at start. An escalation its statement checks did not see (here
 * SQL assembled at run time) is caught there: the request gets an error instead of its result,
 * and since the database may since have been changed by a superuser, the endpoint stops serving
 * until restarted. A role whose attributes changed (ALTER ROLE ... SUPERUSER / CREATEDB) stops it
 * too, on PGlite as on PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import { Client, neon } from "@neondatabase/serverless";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startNeonEndpoint } from "../../dev/neon";
import { configureNeonForLocal } from "../../dev/neon/client";
import { dropDatabase, postgresAdminUrl, testBackends } from "../harness/backends";
import { startTestEndpoint } from "../harness/endpoint";

const backends = await testBackends();

/** SET SESSION AUTHORIZATION built at run time: no statement check can see it. */
const becomes = (role: string) => `EXECUTE format('SET SESSION %s %I', 'AUTHORI' || 'ZATION', '${role}')`;

function settle<T>(p: Promise<T>): Promise<T | { code?: string; message: string }> {
  return p.then(
    (v) => v,
    (e: { code?: string; message: string }) => e,
  );
}

/** Ends a client whose connection the endpoint may have closed (pg's end() then never resolves). */
function endQuietly(c: Client): void {
  c.end().catch(() => {});
}

/** The endpoint refuses everything, over HTTP and WebSocket, with a message saying what to do. */
async function refusesToServe(url: string) {
  const http = await settle(neon(url).query("SELECT 1"));
  expect(http).toMatchObject({ code: "57P03", message: expect.stringMatching(/stopped serving.*restart/s) });
  const c = new Client(url);
  c.on("error", () => {});
  c.neonConfig.pipelineConnect = false;
  const ws = await settle(c.connect().then(() => c.query("SELECT 1")));
  expect(ws).toMatchObject({ code: "57P03" });
  endQuietly(c);
}

const pglite = backends.find((b) => b.name === "pglite");
describe.skipIf(!pglite)("fail closed on pglite", () => {
  it("a session escalated by SQL assembled at run time: the request fails and the endpoint stops", async () => {
    const t = await startTestEndpoint("pglite", { prefix: "neon_esc_closed" });
    try {
      const app = neon(t.appUrl);
      expect(await app.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
      const escaped = await settle(
        app.query(`DO $$ BEGIN ${becomes("postgres")}; END $$`, [], { fullResults: true }),
      );
      expect(escaped).toMatchObject({
        code: "42501",
        message: expect.stringMatching(/ended as session_user postgres/),
      });
      await refusesToServe(t.appUrl);
      await refusesToServe(t.ownerUrl);
      const health = await fetch(`${t.endpoint.url}/health`);
      expect(health.status).toBe(503);
    } finally {
      await t.close();
    }
  });

  it("a role made superuser inside one request, identity restored: caught by its attributes", async () => {
    const t = await startTestEndpoint("pglite", { prefix: "neon_esc_closed" });
    try {
      const app = neon(t.appUrl);
      const escaped = await settle(
        app.query(
          `DO $$ BEGIN ${becomes("postgres")}; ALTER ROLE fisioflow_app SUPERUSER; ${becomes("fisioflow_app")}; END $$`,
        ),
      );
      expect(escaped).toMatchObject({
        code: "42501",
        message: expect.stringMatching(/fisioflow_app.*changed/s),
      });
      await refusesToServe(t.appUrl);
    } finally {
      await t.close();
    }
  });

  it("the same over a WebSocket session: closed, and the endpoint stops", async () => {
    const t = await startTestEndpoint("pglite", { prefix: "neon_esc_closed" });
    try {
      const c = new Client(t.appUrl);
      c.on("error", () => {});
      await c.connect();
      const escaped = await settle(c.query(`DO $$ BEGIN ${becomes("postgres")}; END $$`));
      expect(escaped).toMatchObject({ message: expect.stringMatching(/ended as session_user postgres/) });
      expect(await settle(c.query("SELECT current_user"))).toMatchObject({ message: expect.any(String) });
      endQuietly(c);
      await refusesToServe(t.appUrl);
    } finally {
      await t.close();
    }
  });
});

const postgres = backends.find((b) => b.name === "postgres");
describe.skipIf(!postgres || postgres.skip)("fail closed on postgres", () => {
  // Roles are global to the cluster: this test changes roles of its own, never fisioflow_app.
  const tag = `${process.pid}_${randomBytes(3).toString("hex")}`;
  const roles = { [`esc_owner_${tag}`]: "owner-pw", [`esc_app_${tag}`]: "app-pw" };
  const appRole = `esc_app_${tag}`;
  const database = `neon_esc_closed_${tag}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: postgresAdminUrl() });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  afterAll(async () => {
    await dropDatabase(database).catch(() => {});
    for (const role of Object.keys(roles)) await admin(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
  });

  it("run-time SQL cannot escalate (the server refuses); a role changed from outside stops the endpoint", async () => {
    const endpoint = await startNeonEndpoint({
      port: 0,
      database,
      postgresUrl: postgresAdminUrl(),
      roles,
      log: () => {},
    });
    try {
      configureNeonForLocal(endpoint);
      const appUrl = endpoint.connectionString(appRole);
      const app = neon(appUrl);
      const refused = await settle(app.query(`DO $$ BEGIN ${becomes("postgres")}; END $$`));
      expect(refused).toMatchObject({ code: "42501" });
      expect(await app.query("SELECT current_user AS u, session_user AS s")).toEqual([
        { u: appRole, s: appRole },
      ]);

      const open = new Client(appUrl);
      open.on("error", () => {});
      await open.connect();
      expect((await open.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);

      await admin(`ALTER ROLE ${appRole} CREATEDB`);
      const after = await settle(app.query("SELECT 1"));
      expect(after).toMatchObject({ code: "42501", message: expect.stringMatching(/changed/) });
      await refusesToServe(appUrl);
      // The open session is closed at its next unit of work.
      expect(await settle(open.query("SELECT 1").then(() => open.query("SELECT 2")))).toMatchObject({
        message: expect.any(String),
      });
      endQuietly(open);
    } finally {
      await endpoint.close();
    }
  });
});
