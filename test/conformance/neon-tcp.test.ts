/**
 * The local Neon endpoint's plain-TCP Postgres protocol and its endpoint routing, with the official
 * clients: `pg` (what drizzle-kit uses), psql and pg_dump over TCP, @neondatabase/serverless over
 * HTTP and WebSocket, on the same port — on PGlite and PostgreSQL.
 */
import { execFile } from "node:child_process";
import net from "node:net";
import { promisify } from "node:util";
import { neon, Pool } from "@neondatabase/serverless";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL } from "../../dev/config";
import { Authenticator } from "../../dev/neon/auth";
import { probeClientProgram, testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const run = promisify(execFile);
const backends = await testBackends();
const noPsql = probeClientProgram("psql");
const noPgDump = probeClientProgram("pg_dump");

/** Runs a client program (asynchronously: the endpoint lives in this process). */
async function program(
  name: string,
  args: string[],
  stdin?: string,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const child = run(name, args, { timeout: 30_000, env: { ...process.env, PGCONNECT_TIMEOUT: "10" } });
  child.child.stdin?.end(stdin ?? "");
  try {
    const { stdout, stderr } = await child;
    return { ok: true, stdout, stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function pgError(config: pg.ClientConfig): Promise<{ code?: string; message: string }> {
  const c = new pg.Client(config);
  c.on("error", () => {});
  try {
    await c.connect();
    await c.end();
    return { message: "connected" };
  } catch (err) {
    return err as { code?: string; message: string };
  }
}

/** The connection string with another host (same port): Neon routes by it. */
function withHost(url: string, host: string): string {
  const u = new URL(url);
  u.hostname = host;
  return u.toString();
}

const QUERY = `select $1::int as n, $2::text as s, 12.50::numeric as num, '{1,2}'::int[] as a,
  '2026-11-29 10:00:00+00'::timestamptz as ts, $3::jsonb as j, true as b, null::text as z,
  '\\xdeadbeef'::bytea as bin, 'a'::"char" as c`;
const PARAMS = [7, "três ç", JSON.stringify({ x: [1, "y"] })];

for (const { name, skip } of backends) {
  describe.skipIf(skip)(`neon endpoint over TCP on ${name}`, () => {
    let t: TestEndpoint;
    let appUrl: string;
    let ownerUrl: string;

    beforeAll(async () => {
      t = await startTestEndpoint(name, { prefix: "neon_tcp" });
      appUrl = t.appUrl;
      ownerUrl = t.ownerUrl;
      const owner = new pg.Client({ connectionString: ownerUrl });
      await owner.connect();
      await owner.query("create table notes (id int primary key, body text)");
      await owner.query("grant select, insert, update, delete on notes to fisioflow_app");
      await owner.end();
    });
    afterAll(async () => {
      await t?.close();
    });

    it("answers pg over TCP with what HTTP and the WebSocket answer for the same query", async () => {
      const tcp = new pg.Client({ connectionString: appUrl });
      await tcp.connect();
      const overTcp = await tcp.query(QUERY, PARAMS);
      await tcp.end();
      const pool = new Pool({ connectionString: appUrl });
      const overWs = await pool.query(QUERY, PARAMS);
      await pool.end();
      const overHttp = await neon(appUrl, { fullResults: true }).query(QUERY, PARAMS);

      expect(overTcp.rows[0]).toMatchObject({
        n: 7,
        s: "três ç",
        a: [1, 2],
        j: { x: [1, "y"] },
        b: true,
        z: null,
      });
      const shape = (r: { rows: unknown[]; fields: { name: string; dataTypeID: number }[] }) => ({
        rows: r.rows,
        fields: r.fields.map((f) => [f.name, f.dataTypeID]),
      });
      expect(shape(overWs)).toEqual(shape(overTcp));
      expect(shape(overHttp)).toEqual(shape(overTcp));
    });

    it("runs as the client's own role and checks password and database", async () => {
      const c = new pg.Client({ connectionString: appUrl });
      await c.connect();
      const { rows } = await c.query(
        "select current_user, session_user, (select rolsuper from pg_roles where rolname = current_user) as su",
      );
      await c.end();
      expect(rows[0]).toEqual({ current_user: "fisioflow_app", session_user: "fisioflow_app", su: false });

      const wrong = new URL(appUrl);
      wrong.password = "not-the-password";
      expect(await pgError({ connectionString: wrong.toString() })).toMatchObject({
        code: "28P01",
        message: 'password authentication failed for user "fisioflow_app"',
      });
      const otherDb = new URL(appUrl);
      otherDb.pathname = "/not_a_database";
      expect(await pgError({ connectionString: otherDb.toString() })).toMatchObject({ code: "3D000" });
      expect(
        await pgError({
          connectionString: withHost(appUrl, "127.0.0.1").replace("fisioflow_app", "postgres"),
        }),
      ).toMatchObject({ code: "28P01" });
    });

    it("applies startup options as the client's role and refuses bad or identity-changing ones", async () => {
      const opts = (o: string) => `${appUrl}?options=${encodeURIComponent(o)}`;
      const c = new pg.Client({ connectionString: opts("-c statement_timeout=1234 --lock-timeout=5s") });
      await c.connect();
      const { rows } = await c.query(
        "select current_setting('statement_timeout') as st, current_setting('lock_timeout') as lt",
      );
      await c.end();
      expect(rows[0]).toEqual({ st: "1234ms", lt: "5s" });
      expect(await pgError({ connectionString: opts("-c no_such_setting=1") })).toMatchObject({
        code: "42704",
      });
      for (const escalation of ["-c role=postgres", "-c session_authorization=postgres"]) {
        const e = await pgError({ connectionString: opts(escalation) });
        expect(e.message).not.toBe("connected");
        expect(e.code).toMatch(/^(42501|42704|28000)$/);
      }
    });

    it("commits and rolls back transactions and streams large results", async () => {
      const c = new pg.Client({ connectionString: appUrl });
      await c.connect();
      await c.query("begin");
      await c.query("insert into notes values ($1, $2)", [1, "kept"]);
      await c.query("commit");
      await c.query("begin");
      await c.query("insert into notes values ($1, $2)", [2, "dropped"]);
      await c.query("rollback");
      await expect(c.query("insert into notes values (1, 'dup')")).rejects.toMatchObject({ code: "23505" });
      const big = await c.query("select g, repeat('x', 200) as pad from generate_series(1, 20000) g");
      await c.end();
      expect(big.rowCount).toBe(20000);
      expect(big.rows.at(-1)).toMatchObject({ g: 20000 });
      const rows = await neon(appUrl)`select id, body from notes order by id`;
      expect(rows).toEqual([{ id: 1, body: "kept" }]);
    });

    it("fails a COPY FROM STDIN without data as PostgreSQL does, and keeps serving", async () => {
      const c = new pg.Client({ connectionString: appUrl });
      await c.connect();
      // Simple protocol: pg answers the CopyInResponse with a CopyFail (it has no stream to send).
      await expect(c.query("copy notes from stdin")).rejects.toMatchObject({ code: "57014" });
      expect((await c.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
      await c.end();
      // Extended protocol (a named statement): the same error, not a dead PGlite. (PostgreSQL then
      // waits for a Sync that pg already sent, so this connection is dropped, not reused.)
      const x = new pg.Client({ connectionString: appUrl });
      x.on("error", () => {});
      await x.connect();
      await expect(x.query({ name: "cp", text: "copy notes from stdin" })).rejects.toMatchObject({
        code: "57014",
      });
      (x as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy();
      expect(await neon(appUrl)`select 2 as two`).toEqual([{ two: 2 }]);
    });

    it("leaves no session state behind a closed TCP connection", async () => {
      const a = new pg.Client({ connectionString: appUrl });
      await a.connect();
      await a.query("set application_name = 'left-behind'");
      await a.query("select set_config('app.leftover', 'yes', false)");
      await a.query("create temp table scratch (x int)");
      await a.query("prepare stale as select 1");
      await a.end();
      const b = new pg.Client({ connectionString: appUrl });
      await b.connect();
      const { rows } = await b.query(
        "select current_setting('app.leftover', true) as leftover, to_regclass('pg_temp.scratch') as temp, (select count(*) from pg_prepared_statements)::int as prepared",
      );
      await b.end();
      // PGlite keeps a custom setting once defined, empty after the reset; PostgreSQL has none.
      expect({ ...rows[0], leftover: rows[0].leftover || null }).toEqual({
        leftover: null,
        temp: null,
        prepared: 0,
      });
    });

    it.skipIf(noPsql)("serves psql -c, COPY TO STDOUT and \\copy FROM STDIN", async () => {
      const hello = await program("psql", [appUrl, "-At", "-c", "select current_user, 40 + 2"]);
      expect(hello).toMatchObject({ ok: true, stdout: "fisioflow_app|42\n" });
      const copied = await program(
        "psql",
        [appUrl, "-c", "\\copy notes from stdin"],
        "10\tten\n11\televen\n",
      );
      expect(copied.stderr).toBe("");
      expect(copied.stdout).toBe("COPY 2\n");
      const out = await program("psql", [
        appUrl,
        "-c",
        "copy (select id, body from notes where id >= 10 order by id) to stdout",
      ]);
      expect(out.stdout).toBe("10\tten\n11\televen\n");
      const failed = await program("psql", [appUrl, "-v", "ON_ERROR_STOP=1", "-c", "select 1/0"]);
      expect(failed.ok).toBe(false);
      expect(failed.stderr).toContain("division by zero");
      // The session is fine after an error, and the endpoint still serves everyone.
      expect((await program("psql", [appUrl, "-At", "-c", "select count(*) from notes"])).stdout).toBe("3\n");
    });

    if (name === "postgres") {
      it.skipIf(noPgDump)("serves pg_dump", async () => {
        const dump = await program("pg_dump", ["--schema-only", ownerUrl]);
        expect(dump.stderr).toBe("");
        expect(dump.stdout).toContain("CREATE TABLE public.notes");
      });

      it("passes a CancelRequest on to the server", async () => {
        const c = new pg.Client({ connectionString: appUrl });
        await c.connect();
        const slow = c.query("select pg_sleep(30)");
        await new Promise((r) => setTimeout(r, 200));
        const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
        const cancel = Buffer.alloc(16);
        cancel.writeInt32BE(16, 0);
        cancel.writeInt32BE(80877102, 4);
        cancel.writeInt32BE(processID, 8);
        cancel.writeInt32BE(secretKey, 12);
        const socket = net.connect(t.endpoint.port, "127.0.0.1");
        socket.end(cancel);
        await expect(slow).rejects.toMatchObject({ code: "57014" });
        expect((await c.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
        await c.end();
      });
    } else {
      it.skipIf(noPgDump)("refuses pg_dump 15 on PGlite's newer server (a known limit)", async () => {
        const dump = await program("pg_dump", ["--schema-only", ownerUrl]);
        expect(dump.ok).toBe(false);
        expect(dump.stderr).toContain("server version mismatch");
      });
    }

    describe("endpoint routing", () => {
      const unknownHost = "ep-unknown-endpoint-123456.us-east-2.aws.neon.tech";
      const refused = { code: "28P01", message: 'password authentication failed for user "fisioflow_app"' };

      it("refuses an unknown endpoint host over HTTP as a failed login", async () => {
        await expect(neon(withHost(appUrl, unknownHost))`select 1`).rejects.toMatchObject(refused);
        // The local names and the endpoint's own id (any domain, -pooler too) are served.
        for (const host of [
          "localhost",
          "127.0.0.1",
          `${LOCAL.endpointId}.local.neon`,
          `${LOCAL.endpointId}-pooler.x`,
        ]) {
          const rows = await neon(withHost(appUrl, host))`select 1 as one`;
          expect(rows).toEqual([{ one: 1 }]);
        }
      });

      it("refuses an unknown endpoint host over the WebSocket", async () => {
        const pool = new Pool({ connectionString: withHost(appUrl, unknownHost) });
        pool.on("error", () => {});
        await expect(pool.query("select 1")).rejects.toMatchObject(refused);
        await pool.end();
      });

      it("refuses an unknown endpoint over TCP, named in options or in the password", async () => {
        expect(
          await pgError({ connectionString: `${appUrl}?options=endpoint%3Dep-unknown-1` }),
        ).toMatchObject(refused);
        const u = new URL(appUrl);
        expect(
          await pgError({
            host: "127.0.0.1",
            port: Number(u.port),
            user: "fisioflow_app",
            database: t.database,
            password: `endpoint=ep-unknown-1;${decodeURIComponent(u.password)}`,
          }),
        ).toMatchObject(refused);
        // The endpoint's own id, both ways, is served; other options pass on to the server.
        const named = new pg.Client({
          connectionString: `${appUrl}?options=${encodeURIComponent(`endpoint=${LOCAL.endpointId} -c search_path=pg_catalog`)}`,
        });
        await named.connect();
        expect((await named.query("show search_path")).rows).toEqual([{ search_path: "pg_catalog" }]);
        await named.end();
        const inPassword = new pg.Client({
          host: "127.0.0.1",
          port: Number(u.port),
          user: "fisioflow_app",
          database: t.database,
          password: `endpoint=${LOCAL.endpointId}$${decodeURIComponent(u.password)}`,
        });
        await inPassword.connect();
        await inPassword.end();
      });

      it.skipIf(noPsql)("refuses an unknown endpoint to psql", async () => {
        const r = await program("psql", [`${appUrl}?options=endpoint%3Dep-unknown-2`, "-c", "select 1"]);
        expect(r.ok).toBe(false);
        expect(r.stderr).toContain('password authentication failed for user "fisioflow_app"');
      });

      it("serves an endpoint the control plane adds, until it is removed", async () => {
        const main = t.endpoint.hosts.main;
        const second = {
          endpointId: "ep-second-branch-42",
          auth: new Authenticator({ fisioflow_app: "second-password" }, t.database),
          backend: main.backend,
        };
        t.endpoint.hosts.add(second, ["second.branch.local"]);
        try {
          const secondUrl = (host: string) => {
            const u = new URL(withHost(appUrl, host));
            u.password = "second-password";
            return u.toString();
          };
          for (const host of ["second.branch.local", "ep-second-branch-42-pooler.us-east-2.aws.neon.tech"]) {
            expect(await neon(secondUrl(host))`select 2 as two`).toEqual([{ two: 2 }]);
          }
          const pool = new Pool({ connectionString: secondUrl("second.branch.local") });
          expect((await pool.query("select 3 as three")).rows).toEqual([{ three: 3 }]);
          await pool.end();
          // Its own credentials: the main endpoint's password is not its password.
          await expect(neon(withHost(appUrl, "second.branch.local"))`select 1`).rejects.toMatchObject(
            refused,
          );
          const tcp = new pg.Client({
            connectionString: `${secondUrl("localhost")}?options=endpoint%3Dep-second-branch-42`,
          });
          await tcp.connect();
          await tcp.end();
          // A local name with the options of another endpoint reaches that endpoint, over the
          // WebSocket too; a host naming one endpoint with the options of another gets Neon's
          // inconsistency error.
          const byOption = new Pool({
            connectionString: `${secondUrl("127.0.0.1")}?options=endpoint%3Dep-second-branch-42`,
          });
          expect((await byOption.query("select 4 as four")).rows).toEqual([{ four: 4 }]);
          await byOption.end();
          expect(
            await neon(`${secondUrl("localhost")}?options=endpoint%3Dep-second-branch-42`)`select 5 as five`,
          ).toEqual([{ five: 5 }]);
          const mixed = new Pool({
            connectionString: `${secondUrl(`${LOCAL.endpointId}.local`)}?options=endpoint%3Dep-second-branch-42`,
          });
          mixed.on("error", () => {});
          await expect(mixed.query("select 1")).rejects.toMatchObject({ code: "08P01" });
          await mixed.end();
        } finally {
          expect(t.endpoint.hosts.remove("ep-second-branch-42")).toBe(true);
        }
        await expect(neon(withHost(appUrl, "second.branch.local"))`select 1`).rejects.toMatchObject(refused);
        expect(t.endpoint.hosts.list().map((e) => e.endpointId)).toEqual([LOCAL.endpointId]);
      });
    });

    it("closes a TLS ClientHello (no TLS locally) and still serves HTTP on the same port", async () => {
      const closed = await new Promise<boolean>((resolve) => {
        const s = net.connect(t.endpoint.port, "127.0.0.1", () =>
          s.write(Buffer.from([0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0])),
        );
        s.on("close", () => resolve(true));
        s.on("error", () => {});
        setTimeout(() => resolve(false), 5000);
      });
      expect(closed).toBe(true);
      const health = await fetch(`${t.endpoint.url}/health`);
      expect(health.status).toBe(200);
    });
  });
}
