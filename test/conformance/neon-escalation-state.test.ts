/**
 * No session state outlives an HTTP request on the local endpoint, on PGlite as on PostgreSQL
 * (Neon resets pooled connections the same way): a temp table, a prepared statement, a WITH HOLD
 * cursor, a LISTEN or a session advisory lock left by one request is gone for the next one —
 * whoever sends it, over HTTP or a new WebSocket connection. On PGlite (one session shared by
 * every client) a temp table named like a real one would otherwise shadow it for everyone.
 */
import { Client, neon } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();

/** Everything a request could leave behind in its session (advisory locks: in this database, any session). */
const LEFTOVERS = `SELECT
  (SELECT count(*)::int FROM pg_prepared_statements) AS prepared,
  (SELECT count(*)::int FROM pg_cursors WHERE is_holdable) AS cursors,
  (SELECT count(*)::int FROM pg_listening_channels()) AS listens,
  (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS locks,
  to_regclass('pg_temp.pacientes')::text AS temp_table`;
const NONE = { prepared: 0, cursors: 0, listens: 0, locks: 0, temp_table: null };

for (const { name, skip } of backends) {
  describe.skipIf(skip)(`no session state survives an HTTP request on ${name}`, () => {
    let t: TestEndpoint;
    let owner: ReturnType<typeof neon>;
    let app: ReturnType<typeof neon>;

    beforeAll(async () => {
      t = await startTestEndpoint(name, { prefix: "neon_esc_state" });
      owner = neon(t.ownerUrl);
      app = neon(t.appUrl);
      await owner.transaction([
        owner.query("CREATE TABLE pacientes (id int PRIMARY KEY, nome text)"),
        owner.query("INSERT INTO pacientes VALUES (1, 'real')"),
        owner.query("GRANT SELECT ON pacientes TO fisioflow_app"),
      ]);
    });
    afterAll(async () => {
      await t?.close();
    });

    async function nothingLeft(label: string) {
      expect(await app.query(LEFTOVERS), `${label}: next request (app)`).toEqual([NONE]);
      expect(await owner.query(LEFTOVERS), `${label}: next request (owner)`).toEqual([NONE]);
      const c = new Client(t.appUrl);
      await c.connect();
      try {
        expect((await c.query(LEFTOVERS)).rows, `${label}: new WebSocket connection`).toEqual([NONE]);
      } finally {
        await c.end();
      }
    }

    it("a temp table does not shadow the real one for the next request", async () => {
      await app.query("CREATE TEMP TABLE pacientes (id int, nome text)");
      // Had the temp table survived, this would land in it (the app role cannot insert into the real one).
      const insert = await app.query("INSERT INTO pacientes VALUES (666, 'fake')").then(
        () => "inserted",
        (e: { code?: string }) => e.code,
      );
      expect(insert).toBe("42501");
      expect(await owner.query("SELECT id, nome FROM pacientes")).toEqual([{ id: 1, nome: "real" }]);
      expect(await app.query("SELECT id, nome FROM pacientes")).toEqual([{ id: 1, nome: "real" }]);
      // The same inside a batch (its transaction commits the table).
      await app.transaction([app.query("CREATE TEMP TABLE pacientes (id int, nome text)")]);
      await nothingLeft("temp table");
    });

    it("a prepared statement is gone for the next request", async () => {
      await app.query("PREPARE leaked AS SELECT 1 AS one");
      await expect(app.query("EXECUTE leaked")).rejects.toMatchObject({ code: "26000" });
      await nothingLeft("prepared statement");
    });

    it("a WITH HOLD cursor is gone for the next request", async () => {
      await app.query("DECLARE leaked CURSOR WITH HOLD FOR SELECT 1 AS one");
      await app.transaction([app.query("DECLARE leaked2 CURSOR WITH HOLD FOR SELECT 2 AS two")]);
      await expect(app.query("FETCH leaked")).rejects.toMatchObject({ code: "34000" });
      await nothingLeft("cursor");
    });

    it("a LISTEN is gone for the next request", async () => {
      await app.query("LISTEN leaked");
      await nothingLeft("listen");
    });

    it("a session advisory lock is released after the request", async () => {
      await app.query("SELECT pg_advisory_lock(4242)");
      await nothingLeft("advisory lock");
      // Anyone can take it again at once (a leaked lock would make this wait on postgres).
      expect(await owner.query("SELECT pg_try_advisory_lock(4242) AS got")).toEqual([{ got: true }]);
      await nothingLeft("advisory lock, again");
    });

    it("a lone BEGIN followed by session state leaves nothing either", async () => {
      await app.query("BEGIN");
      await app.query("PREPARE leaked3 AS SELECT 3");
      await app.query("CREATE TEMP TABLE pacientes (id int)");
      await nothingLeft("after a lone BEGIN");
    });
  });
}
