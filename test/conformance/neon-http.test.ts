/**
 * The local Neon endpoint's HTTP /sql API, driven only by @neondatabase/serverless 1.2.0's neon():
 * values, options, batches/transactions, errors — on PGlite and on real PostgreSQL.
 */
import { Client, NeonDbError, type NeonQueryFunction, neon } from "@neondatabase/serverless";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAdminUrl, testBackends } from "../harness/backends";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();

async function rejection(p: Promise<unknown>): Promise<NeonDbError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NeonDbError);
  return err as NeonDbError;
}

for (const { name, skip } of backends) {
  describe.skipIf(skip)(`neon http /sql on ${name}`, () => {
    let t: TestEndpoint;
    let sql: NeonQueryFunction<false, false>;

    beforeAll(async () => {
      t = await startTestEndpoint(name, { prefix: "neon_http" });
      sql = neon(t.endpoint.connectionString("fisioflow_owner"));
      await sql`create table items (id int primary key, label text not null unique)`;
    });
    afterAll(async () => {
      await t?.close();
    });

    it("returns values parsed by the driver from Postgres text output", async () => {
      const [row] = await sql`select 7::int2 as i2, 42::int4 as i4, 9007199254740993::int8 as i8,
        12.345::numeric as num, 'olá'::text as txt, true as yes, false as no,
        '6f1c2c3e-8a3b-4c5d-9e7f-0123456789ab'::uuid as id, '2024-02-29'::date as day,
        '2024-01-02 03:04:05.678+00'::timestamptz as ts, '1 day 02:03:04'::interval as iv,
        '{"a":[1,2],"b":null}'::jsonb as doc, '{1,2,3}'::int[] as ints, '{"a b",c,NULL}'::text[] as texts,
        '\\xdeadbeef'::bytea as bin, null::text as nothing`;
      expect(row!.i2).toBe(7);
      expect(row!.i4).toBe(42);
      expect(row!.i8).toBe("9007199254740993"); // int8 stays a string (pg's default)
      expect(row!.num).toBe("12.345");
      expect(row!.txt).toBe("olá");
      expect(row!.yes).toBe(true);
      expect(row!.no).toBe(false);
      expect(row!.id).toBe("6f1c2c3e-8a3b-4c5d-9e7f-0123456789ab");
      expect(row!.day).toBeInstanceOf(Date);
      expect((row!.ts as Date).toISOString()).toBe("2024-01-02T03:04:05.678Z");
      expect(row!.iv).toMatchObject({ days: 1, hours: 2, minutes: 3, seconds: 4 });
      expect(row!.doc).toEqual({ a: [1, 2], b: null });
      expect(row!.ints).toEqual([1, 2, 3]);
      expect(row!.texts).toEqual(["a b", "c", null]);
      expect(Buffer.from(row!.bin as Uint8Array).toString("hex")).toBe("deadbeef");
      expect(row!.nothing).toBeNull();
    });

    it("sends parameters of every kind and gets them back", async () => {
      const bytes = Buffer.from([0, 1, 254, 255]);
      const [row] = await sql`select ${5}::int as n, ${"it's"}::text as s, ${{ k: "v" }}::jsonb as j,
        ${bytes} as b, ${null}::text as z, ${new Date("2024-05-06T07:08:09Z")}::timestamptz as t`;
      expect(row).toMatchObject({ n: 5, s: "it's", j: { k: "v" }, z: null });
      expect(Buffer.from(row!.b as Uint8Array).equals(bytes)).toBe(true);
      expect((row!.t as Date).toISOString()).toBe("2024-05-06T07:08:09.000Z");
    });

    it("supports sql.query, fullResults and arrayMode", async () => {
      await sql.query("insert into items (id, label) values ($1, $2), ($3, $4)", [1, "one", 2, "two"]);
      const full = await sql.query("select id, label from items where id <= $1 order by id", [2], {
        fullResults: true,
      });
      expect(full.command).toBe("SELECT");
      expect(full.rowCount).toBe(2);
      expect(full.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
        ["id", 23],
        ["label", 25],
      ]);
      expect(full.rows).toEqual([
        { id: 1, label: "one" },
        { id: 2, label: "two" },
      ]);
      const arrays = await sql.query("select id, label from items order by id", [], { arrayMode: true });
      expect(arrays).toEqual([
        [1, "one"],
        [2, "two"],
      ]);
      const upd = await sql.query("update items set label = label where id > $1", [0], { fullResults: true });
      expect(upd.command).toBe("UPDATE");
      expect(upd.rowCount).toBe(2);
    });

    it("applies each isolation level, read-only and deferrable to a batch", async () => {
      for (const isolationLevel of [
        "ReadUncommitted",
        "ReadCommitted",
        "RepeatableRead",
        "Serializable",
      ] as const) {
        const [[row]] = (await sql.transaction(
          [sql`select current_setting('transaction_isolation') as lvl`],
          {
            isolationLevel,
          },
        )) as [Record<string, unknown>[]];
        expect(row!.lvl).toBe(isolationLevel.replace(/([a-z])([A-Z])/, "$1 $2").toLowerCase());
      }
      const [[ro]] = (await sql.transaction(
        [
          sql`select current_setting('transaction_read_only') as ro, current_setting('transaction_deferrable') as d`,
        ],
        { isolationLevel: "Serializable", readOnly: true, deferrable: true },
      )) as [Record<string, unknown>[]];
      expect(ro).toEqual({ ro: "on", d: "on" });
      const err = await rejection(
        sql.transaction([sql`insert into items (id, label) values (99, 'ro')`], { readOnly: true }),
      );
      expect(err.code).toBe("25006");
    });

    it("returns one result per statement of a batch, in order", async () => {
      const results = await sql.transaction((tx) => [
        tx`insert into items (id, label) values (10, 'ten') returning id`,
        tx`select count(*)::int as n from items where id = 10`,
      ]);
      expect(results).toEqual([[{ id: 10 }], [{ n: 1 }]]);
    });

    it("maps a unique violation to NeonDbError with code and constraint", async () => {
      const err = await rejection(sql`insert into items (id, label) values (1, 'dup')`);
      expect(err.code).toBe("23505");
      expect(err.constraint).toBe("items_pkey");
      expect(err.table).toBe("items");
      expect(err.detail).toContain("(id)=(1)");
      expect(err.severity).toBe("ERROR");
    });

    it("rolls a failing batch back entirely", async () => {
      const err = await rejection(
        sql.transaction([
          sql`insert into items (id, label) values (50, 'fifty')`,
          sql`insert into items (id, label) values (51, 'one')`, // label unique → fails
        ]),
      );
      expect(err.code).toBe("23505");
      expect(err.constraint).toBe("items_label_key");
      expect(await sql`select id from items where id in (50, 51)`).toEqual([]);
    });

    it("runs single queries through the extended protocol ($1 without params)", async () => {
      const err = await rejection(sql.query("select $1::int as x"));
      expect(err.message).toBe('bind message supplies 0 parameters, but prepared statement "" requires 1');
      const err2 = await rejection(sql.query("select 1; select 2"));
      expect(err2.message).toBe("cannot insert multiple commands into a prepared statement");
    });

    it("reports a syntax error with its position", async () => {
      const err = await rejection(sql.query("selec 1"));
      expect(err.code).toBe("42601");
      expect(err.position).toBe("1");
    });

    it("rejects a wrong password (28P01) and an unknown database (3D000)", async () => {
      const good = t.endpoint.connectionString("fisioflow_app");
      const badPw = await rejection(neon(good.replace("app-local-password", "nope"))`select 1`);
      expect(badPw.code).toBe("28P01");
      expect(badPw.message).toBe('password authentication failed for user "fisioflow_app"');
      const badUser = await rejection(neon(good.replace("fisioflow_app:", "intruder:"))`select 1`);
      expect(badUser.code).toBe("28P01");
      const badDb = await rejection(neon(good.replace(/\/[^/]+$/, "/nosuchdb"))`select 1`);
      expect(badDb.code).toBe("3D000");
      expect(badDb.message).toBe('database "nosuchdb" does not exist');
    });

    it("runs the app role as itself", async () => {
      const app = neon(t.endpoint.connectionString("fisioflow_app"));
      const [row] = await app`select current_user as u, current_setting('is_superuser') as su`;
      expect(row).toEqual({ u: "fisioflow_app", su: "off" });
      // It owns nothing and got no grant: the owner's table is off limits.
      const err = await rejection(app`select * from items`);
      expect(err.code).toBe("42501");
    });

    it("does not let a lone BEGIN leave a pooled session inside a transaction", async () => {
      await sql.query("begin");
      // Outside a transaction every statement gets its own transaction id.
      const [a] = await sql`select pg_current_xact_id()::text as x`;
      const [b] = await sql`select pg_current_xact_id()::text as x`;
      expect(a!.x).not.toBe(b!.x);
      if (name === "postgres") {
        const database = new URL(t.endpoint.connectionString()).pathname.slice(1);
        const admin = new pg.Client({ connectionString: postgresAdminUrl() });
        await admin.connect();
        try {
          const { rows } = await admin.query(
            "select count(*)::int as n from pg_stat_activity where datname = $1 and state like 'idle in transaction%'",
            [database],
          );
          expect(rows[0].n).toBe(0);
        } finally {
          await admin.end();
        }
      }
    });

    it("subjects the app role to Row Level Security", async () => {
      await sql.transaction([
        sql`create table docs (id int primary key, owner text not null)`,
        sql`alter table docs enable row level security`,
        sql`create policy docs_own on docs using (owner = current_setting('app.user', true))`,
        sql`grant select on docs to fisioflow_app`,
        sql`insert into docs values (1, 'ana'), (2, 'bia')`,
      ]);
      const app = neon(t.endpoint.connectionString("fisioflow_app"));
      const [, rows] = await app.transaction([
        app`select set_config('app.user', 'ana', true)`,
        app`select id from docs order by id`,
      ]);
      expect(rows).toEqual([{ id: 1 }]);
      expect(await app`select id from docs`).toEqual([]); // the setting was transaction-local
      expect(await sql`select id from docs order by id`).toEqual([{ id: 1 }, { id: 2 }]); // owner, not forced
    });

    it("serves 50 parallel queries", async () => {
      const app = neon(t.endpoint.connectionString("fisioflow_app"));
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => app`select ${i}::int as i, pg_sleep(0.01)::text as s`),
      );
      expect(results.map((r) => r[0]!.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });

    it("resets session state between requests on a pooled connection (as Neon does)", async () => {
      const app = neon(t.endpoint.connectionString("fisioflow_app"));
      for (let i = 0; i < 3; i++) {
        await app`select set_config('app.role', 'admin', false)`;
        await app.query("set statement_timeout = 1234");
        const [row] =
          await app`select current_setting('app.role', true) as r, current_setting('statement_timeout') as st`;
        expect(row!.r ?? "").toBe(""); // "" once the placeholder exists, as after RESET ALL on Neon
        expect(row!.st).not.toBe("1234ms");
      }
      // The reset also undoes what a lone BEGIN left behind.
      await app.query("begin");
      await app`select set_config('app.role', 'admin', false)`;
      const [row] = await app`select current_setting('app.role', true) as r`;
      expect(row!.r ?? "").toBe("");
      if (name === "postgres") {
        // Prepared statements, temp tables and advisory locks go too (DISCARD ALL).
        await app.query("prepare leaked as select 1");
        await app.query("create temp table leaked (x int)");
        await app`select pg_advisory_lock(4242)`;
        const [s] = await app`select (select count(*)::int from pg_prepared_statements) as p,
          to_regclass('pg_temp.leaked')::text as t, (select count(*)::int from pg_locks where locktype = 'advisory' and objid = 4242
            and database = (select oid from pg_database where datname = current_database())) as l`;
        expect(s).toEqual({ p: 0, t: null, l: 0 });
      }
    });

    it("fails COPY FROM STDIN at once and keeps serving (no pooled connection is held)", async () => {
      await sql`create table copied (x int)`;
      for (let i = 0; i < 25; i++) {
        const err = await rejection(sql.query("copy copied from stdin"));
        expect(err.code).toBe("57014");
        expect(err.message).toBe("COPY from stdin failed: COPY FROM STDIN is not supported over HTTP");
      }
      const batch = await rejection(
        sql.transaction([
          sql`insert into copied values (1)`,
          sql.query("copy copied from stdin"),
          sql`insert into copied values (2)`,
        ]),
      );
      expect(batch.code).toBe("57014");
      expect(await sql`select count(*)::int as n from copied`).toEqual([{ n: 0 }]);
      // COPY TO STDOUT completes; its data is not returned (as node-postgres does without a stream).
      const out = await sql.query("copy (select 1) to stdout", [], { fullResults: true });
      expect(out.command).toBe("COPY");
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    });

    it("refuses role changes from the client role (no escape to the PGlite superuser)", async () => {
      const app = neon(t.endpoint.connectionString("fisioflow_app"));
      const attempts = [
        "reset role",
        "set role postgres",
        "SET /* hidden */ ROLE\n  postgres",
        "set local role postgres",
        "set session authorization postgres",
        "reset session authorization",
        "select set_config('role', 'postgres', false)",
        "select set_config('session_authorization', 'postgres', false)",
        "select '--' as x, set_config/**/('role', 'postgres', false)",
      ];
      for (const attempt of attempts) {
        const outcome = await app
          .transaction([app.query(attempt), app`select current_user as u, session_user as s`])
          .then(
            (r) => (r as Record<string, unknown>[][])[1]![0],
            (e: NeonDbError) => e.code,
          );
        // Postgres itself refuses (42501) or the change is harmless (RESET ROLE back to the client).
        if (typeof outcome === "string") expect(outcome, attempt).toBe("42501");
        else expect(outcome, attempt).toMatchObject({ u: "fisioflow_app" });
        const [who] = await app`select current_user as u, current_setting('is_superuser') as su`;
        expect(who, attempt).toEqual({ u: "fisioflow_app", su: "off" });
      }
      const err = await rejection(app.query("select set_config($1, $2, false)", ["role", "postgres"]));
      expect(err.code).toBe("42501");
      const set = await rejection(app.query("set role postgres"));
      expect(set.message).toBe('permission denied to set role "postgres"');
      // A column named role is not the SET command.
      await sql`create table members (id int, role text)`;
      await sql`insert into members values (1, 'a')`;
      await sql`update members as m set role = 'b' where m.id = 1`;
      expect(await sql`select role from members`).toEqual([{ role: "b" }]);
    });

    it("answers a request that outlives requestTimeoutMs with 57014 and frees its connection", async () => {
      const short = await startTestEndpoint(name, {
        prefix: "neon_http_to",
        requestTimeoutMs: 400,
        poolSize: 1,
      });
      try {
        const app = neon(short.endpoint.connectionString("fisioflow_app"));
        let holder: Client | null = null;
        if (name === "pglite") {
          // PGlite cannot interrupt a query; what can take forever is waiting for its one session.
          holder = new Client(short.endpoint.connectionString("fisioflow_app"));
          await holder.connect();
          await holder.query("begin");
        }
        const started = Date.now();
        const err = await rejection(name === "postgres" ? app`select pg_sleep(30)` : app`select 1`);
        expect(err.code).toBe("57014");
        expect(Date.now() - started).toBeLessThan(5000);
        await holder?.query("rollback");
        await holder?.end();
        expect(await app`select 2 as two`).toEqual([{ two: 2 }]); // the only pooled slot is free again
      } finally {
        await short.close();
      }
    });

    it("answers malformed requests with 400 and unknown paths with 404", async () => {
      const headers = { "Neon-Connection-String": t.endpoint.connectionString("fisioflow_owner") };
      const bad = await fetch(t.endpoint.sqlUrl, { method: "POST", headers, body: "{nope" });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { message: string }).message).toMatch(/JSON/);
      const noHeader = await fetch(t.endpoint.sqlUrl, { method: "POST", body: '{"query":"select 1"}' });
      expect(noHeader.status).toBe(400);
      const missing = await fetch(`${t.endpoint.url}/nope`);
      expect(missing.status).toBe(404);
      // A browser's preflight from a development origin gets that origin back, never "*"
      // (neon-escalation-origin.test.ts has the refusals).
      const preflight = await fetch(t.endpoint.sqlUrl, {
        method: "OPTIONS",
        headers: { Origin: "http://localhost:5173" },
      });
      expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    });

    it("answers a body over the 10 MiB limit with 400, not a reset connection", async () => {
      const headers = { "Neon-Connection-String": t.endpoint.connectionString("fisioflow_owner") };
      const body = JSON.stringify({ query: "select $1::text", params: ["a".repeat(11 * 1024 * 1024)] });
      const tooLarge = await fetch(t.endpoint.sqlUrl, { method: "POST", headers, body });
      expect(tooLarge.status).toBe(400);
      expect(((await tooLarge.json()) as { message: string }).message).toMatch(/too large/);
    });
  });
}
