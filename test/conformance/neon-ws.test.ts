/**
 * The local Neon endpoint's WebSocket /v1 tunnel, driven only by @neondatabase/serverless 1.2.0's
 * Pool and Client (pipelined startup, as the driver does by default) — on PGlite and PostgreSQL.
 */
import { Client, neon, Pool } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();

for (const { name, skip } of backends) {
  describe.skipIf(skip)(`neon websocket /v1 on ${name}`, () => {
    let t: TestEndpoint;
    let pool: Pool;

    beforeAll(async () => {
      t = await startTestEndpoint(name, { prefix: "neon_ws" });
      pool = new Pool({ connectionString: t.endpoint.connectionString("fisioflow_owner"), max: 5 });
      await pool.query("create table notes (id int primary key, body text)");
    });
    afterAll(async () => {
      await pool?.end();
      await t?.close();
    });

    it("runs parameterized queries with parsed values", async () => {
      const { rows, rowCount, fields } = await pool.query(
        "select $1::int as n, $2::text as s, '{1,2}'::int[] as a, now() as ts, $3::jsonb as j",
        [3, "três", JSON.stringify({ x: 1 })],
      );
      expect(rowCount).toBe(1);
      expect(fields.map((f) => f.name)).toEqual(["n", "s", "a", "ts", "j"]);
      expect(rows[0]).toMatchObject({ n: 3, s: "três", a: [1, 2], j: { x: 1 } });
      expect(rows[0].ts).toBeInstanceOf(Date);
    });

    it("makes a committed transaction visible", async () => {
      const c = await pool.connect();
      try {
        await c.query("begin");
        await c.query("insert into notes values ($1, $2)", [1, "kept"]);
        await c.query("commit");
      } finally {
        c.release();
      }
      const { rows } = await pool.query("select body from notes where id = 1");
      expect(rows).toEqual([{ body: "kept" }]);
    });

    it("makes a rolled-back transaction invisible", async () => {
      const c = await pool.connect();
      try {
        await c.query("begin");
        await c.query("insert into notes values ($1, $2)", [2, "dropped"]);
        await c.query("rollback");
      } finally {
        c.release();
      }
      const { rows } = await pool.query("select body from notes where id = 2");
      expect(rows).toEqual([]);
    });

    it("keeps a session usable after an error inside a transaction", async () => {
      const c = await pool.connect();
      try {
        await c.query("begin");
        await expect(c.query("insert into notes values (1, 'dup')")).rejects.toMatchObject({ code: "23505" });
        await expect(c.query("select 1")).rejects.toMatchObject({ code: "25P02" });
        await c.query("rollback");
        expect((await c.query("select 2 as x")).rows).toEqual([{ x: 2 }]);
      } finally {
        c.release();
      }
    });

    it("runs two concurrent transactions, each in its own session", async () => {
      const a = await pool.connect();
      const b = await pool.connect();
      try {
        await a.query("begin");
        await a.query("insert into notes values (10, 'a')");
        let bInserted = false;
        const bWork = (async () => {
          await b.query("begin");
          await b.query("insert into notes values (11, 'b')");
          bInserted = true;
          return (await b.query("select count(*)::int as n from notes where id in (10, 11)")).rows[0]
            .n as number;
        })();
        if (name === "pglite") {
          // One Postgres session: b's transaction waits until a's ends.
          const aSees = await a.query("select count(*)::int as n from notes where id in (10, 11)");
          expect(aSees.rows[0].n).toBe(1);
          expect(bInserted).toBe(false);
          await a.query("commit");
          expect(await bWork).toBe(2);
        } else {
          // Real sessions: both transactions are open at once and see only their own row.
          expect(await bWork).toBe(1);
          const aSees = await a.query("select count(*)::int as n from notes where id in (10, 11)");
          expect(aSees.rows[0].n).toBe(1);
          await a.query("commit");
        }
        await b.query("commit");
        const after = await pool.query("select id from notes where id in (10, 11) order by id");
        expect(after.rows).toEqual([{ id: 10 }, { id: 11 }]);
      } finally {
        a.release();
        b.release();
      }
    });

    it("rolls back what a client left open when it disconnects", async () => {
      const c = new Client(t.endpoint.connectionString("fisioflow_owner"));
      await c.connect();
      await c.query("begin");
      await c.query("insert into notes values (20, 'orphan')");
      await c.end();
      const { rows } = await pool.query("select id from notes where id = 20");
      expect(rows).toEqual([]);
    });

    // The next client must not inherit a disconnected client's session settings. On postgres each
    // WebSocket has its own backend connection; on PGlite the one shared session must be reset.
    const settingsSql =
      "select coalesce(current_setting('app.role', true), '') as app_role, current_setting('statement_timeout') as st";
    const settingsOf = async (c: Client) =>
      (await c.query(settingsSql)).rows[0] as { app_role: string; st: string };
    const leaveWith = ["client.end()", "pool release(destroy)", "abrupt socket close"] as const;
    const setBy = ["SET", "set_config"] as const;
    for (const role of ["fisioflow_app", "fisioflow_owner"] as const)
      for (const how of leaveWith)
        for (const via of setBy)
          it(`resets session settings when ${role} disconnects by ${how} (set with ${via})`, async () => {
            const url = t.endpoint.connectionString(role);
            const fresh = new Client(url);
            await fresh.connect();
            const baseline = await settingsOf(fresh).finally(() => fresh.end());
            expect(baseline).toEqual({ app_role: "", st: expect.any(String) });
            expect(baseline.st).not.toBe("1234ms");

            const p = new Pool({ connectionString: url, max: 1 });
            p.on("error", () => {});
            let c1: Client;
            let leave: () => Promise<void>;
            if (how === "pool release(destroy)") {
              const pc = await p.connect();
              c1 = pc as unknown as Client;
              leave = async () => pc.release(true);
            } else {
              const c = new Client(url);
              c.on("error", () => {});
              await c.connect();
              c1 = c;
              leave =
                how === "client.end()"
                  ? () => c.end()
                  : async () => {
                      // No Terminate, no close frame: the TCP connection just drops.
                      const stream = (
                        c as unknown as { connection: { stream: { ws: { terminate(): void } } } }
                      ).connection.stream;
                      stream.ws.terminate();
                      // Give the endpoint a moment to notice the dropped socket.
                      await new Promise((resolve) => setTimeout(resolve, 50));
                    };
            }
            if (via === "SET") await c1.query("SET app.role = 'admin'");
            else await c1.query("select set_config('app.role', 'admin', false)");
            await c1.query("SET statement_timeout = '1234ms'");
            expect(await settingsOf(c1)).toEqual({ app_role: "admin", st: "1234ms" });
            await leave();
            // Pool.end() waits for its clients to be removed, which release(true) has done.
            await p.end();

            for (const next of ["fisioflow_app", "fisioflow_owner"]) {
              const c2 = new Client(t.endpoint.connectionString(next));
              await c2.connect();
              try {
                expect(await settingsOf(c2), `${next} after ${role}`).toEqual({
                  app_role: "",
                  st: baseline.st,
                });
              } finally {
                await c2.end();
              }
            }
            // An HTTP request runs in the same PGlite session too.
            const [viaHttp] = await neon(url).query(settingsSql);
            expect(viaHttp).toEqual({ app_role: "", st: baseline.st });
          });

    it("connects the app role as itself", async () => {
      const c = new Client(t.endpoint.connectionString("fisioflow_app"));
      await c.connect();
      try {
        const { rows } = await c.query("select current_user as u");
        expect(rows).toEqual([{ u: "fisioflow_app" }]);
        await expect(c.query("select * from notes")).rejects.toMatchObject({ code: "42501" });
      } finally {
        await c.end();
      }
    });

    it("rejects a wrong password (28P01) and an unknown database (3D000)", async () => {
      const good = t.endpoint.connectionString("fisioflow_app");
      // Without pipelining, connect() itself fails with the server's error.
      const refused = async (url: string) => {
        const c = new Client(url);
        c.neonConfig.pipelineConnect = false;
        return c.connect().then(
          () => null,
          (e: unknown) => e,
        );
      };
      await expect(refused(good.replace("app-local-password", "nope"))).resolves.toMatchObject({
        code: "28P01",
        message: 'password authentication failed for user "fisioflow_app"',
      });
      await expect(refused(good.replace("fisioflow_app:", "intruder:"))).resolves.toMatchObject({
        code: "28P01",
      });
      await expect(refused(good.replace(/\/[^/]+$/, "/nosuchdb"))).resolves.toMatchObject({
        code: "3D000",
        message: 'database "nosuchdb" does not exist',
      });
      // With the driver's default pipelined connect, connect() resolves at once (as against Neon)
      // and the refusal arrives as the client's error event and fails the first query.
      const pipelined = new Client(good.replace("app-local-password", "nope"));
      const errors: { code?: string }[] = [];
      pipelined.on("error", (e) => errors.push(e as { code?: string }));
      await pipelined.connect();
      errors.push(
        await pipelined.query("select 1").then(
          () => ({}),
          (e: { code?: string }) => e,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(errors.map((e) => e.code)).toContain("28P01");
    });

    it("refuses role changes from the client role over the tunnel too", async () => {
      const c = new Client(t.endpoint.connectionString("fisioflow_app"));
      await c.connect();
      try {
        for (const attempt of [
          "reset role",
          "set role postgres",
          "set session authorization postgres",
          "select set_config('role', 'postgres', false)",
        ]) {
          const code = await c.query(attempt).then(
            () => null,
            (e: { code?: string }) => e.code,
          );
          if (code !== null) expect(code, attempt).toBe("42501");
          const { rows } = await c.query("select current_user as u, current_setting('is_superuser') as su");
          expect(rows, attempt).toEqual([{ u: "fisioflow_app", su: "off" }]);
        }
        // Extended protocol with parameters, inside a transaction: refused, and the transaction aborts.
        await c.query("begin");
        await expect(c.query("select set_config($1, $2, true)", ["role", "postgres"])).rejects.toMatchObject({
          code: "42501",
        });
        await expect(c.query("select 1")).rejects.toMatchObject({ code: "25P02" });
        await c.query("rollback");
        const { rows } = await c.query("select current_user as u");
        expect(rows).toEqual([{ u: "fisioflow_app" }]);
      } finally {
        await c.end();
      }
    });

    it("ends the pool cleanly", async () => {
      const p = new Pool({ connectionString: t.endpoint.connectionString("fisioflow_app") });
      const results = await Promise.all([1, 2, 3].map((i) => p.query("select $1::int as i", [i])));
      expect(results.map((r) => r.rows[0].i)).toEqual([1, 2, 3]);
      await p.end();
      expect(p.ended).toBe(true);
    });
  });
}
