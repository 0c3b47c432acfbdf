/**
 * An identity SQL cannot forge (migration 0012, db/identity.ts), and no forged audit rows. Every
 * attack runs as the app role over HTTP, after a genuine identity statement, in the same
 * transaction batch, as an SQL injection in the API would: it may set any setting, define
 * functions, call anything it has EXECUTE on. It must see nothing it could not see before.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgError } from "../../db/errors";
import { identitySigner } from "../../db/identity";
import type { Auth } from "../../db/session";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, startTestDb, TEST_SIGNER, type TestDb } from "../harness/db";

const backends = await testBackends();

/** What the app role may call among the SECURITY DEFINER functions: what the API calls. */
const DEFINER_ALLOWED = [
  "app.anonimizar_paciente(uuid)",
  "app.buscar_pacientes(text,integer,double precision,uuid)",
  "app.entrar(text)",
  "app.estado_migracao()",
  "app.identidade()",
  "app.metricas_recentes(interval)",
  "app.metricas_serie(text[],timestamp with time zone,timestamp with time zone)",
  "audit.registrar_leitura(text,uuid[])",
];

describe.each(backends)("identity and audit on $name", ({ name, skip }) => {
  let db: TestDb;
  let fx: Fixture;
  let prontuarioB: string;
  let fisioA: Auth;
  // Which rows, not how many: A and B have as many pacientes each.
  const count = `SELECT (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM pacientes) AS pacientes,
                        (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM fisioterapeutas) AS fisioterapeutas,
                        (SELECT count(*)::int FROM audit.log) AS audit`;

  beforeAll(async () => {
    if (skip) return;
    db = await startTestDb(name, "identity");
    fx = await createFixture(db);
    fisioA = { userId: fx.fisioA, role: "fisioterapeuta" };
    prontuarioB = await db.system(async (c) => {
      const r = await c.query(
        `INSERT INTO public.prontuarios (paciente_id, fisioterapeuta_id, conteudo) VALUES ($1, $2, 'B only') RETURNING id`,
        [fx.pacB, fx.fisioB],
      );
      return r.rows[0].id as string;
    });
  }, 120_000);
  afterAll(async () => db?.close());

  /** A's view with nothing but the identity: the baseline every attack is held to. */
  const baseline = async () => (await db.as(fisioA, (sql) => [sql.query(count)]))[0]![0];

  // Each is something PostgreSQL lets the app role do; under the old settings-based identity
  // each one made A an admin or fisioterapeuta B for the rest of the transaction.
  const attacks: [string, string[]][] = [
    [
      "set_config of app.role and app.user_id",
      ["SELECT set_config('app.role', 'admin', true), set_config('app.user_id', '$B', true)"],
    ],
    ["SET LOCAL", ["SET LOCAL app.role = 'admin'"]],
    ["SET (session)", ["SET app.user_id = '$B'"]],
    [
      "a function of its own that sets them",
      [
        "CREATE FUNCTION pg_temp.escalar() RETURNS text LANGUAGE sql AS $f$ SELECT set_config('app.user_id', '$B', true) $f$",
        "SELECT pg_temp.escalar()",
      ],
    ],
    ["a DO block with dynamic SQL", ["DO $d$ BEGIN EXECUTE 'SET LOCAL app.user_id = ''$B'''; END $d$"]],
    [
      "UPDATE pg_settings",
      [
        "SELECT set_config('app.user_id', '', true)",
        "UPDATE pg_settings SET setting = '$B' WHERE name = 'app.user_id'",
      ],
    ],
  ];

  for (const [name, statements] of attacks) {
    it.skipIf(skip)(`${name}: sees what the identity sees, nothing more`, async () => {
      const before = await baseline();
      const results = (await db.as(fisioA, (sql) => [
        ...statements.map((s) => sql.query(s.replaceAll("$B", fx.fisioB))),
        sql.query(count),
      ])) as unknown[][];
      expect(results.at(-1)![0]).toEqual(before);
    });
  }

  it.skipIf(skip)(
    "a token edited to say admin, or signed with another key, or expired, is worth nothing",
    async () => {
      const good = await TEST_SIGNER.token(fx.fisioA, "fisioterapeuta");
      const edited = good.replace(".fisioterapeuta.", ".admin.");
      const otherKey = await identitySigner({ kid: "local", secret: "x".repeat(40) }).token(null, "admin");
      const expired = await TEST_SIGNER.token(null, "admin", { now: Date.now() - 15 * 60_000 });
      for (const forged of [edited, otherKey, expired, "v1.db..system.9999999999.00"]) {
        // Set after a genuine identity: the policies then see no identity at all.
        const r = (await db.as(fisioA, (sql) => [
          sql.query("SELECT set_config('app.identity', $1, true)", [forged]),
          sql.query(count),
        ])) as unknown[][];
        expect(r[1]![0]).toEqual({ pacientes: [], fisioterapeutas: [], audit: 0 });
        // As the first statement, the API's own entry refuses it outright.
        const err = await db.app
          .transaction((sql) => [
            sql.query("SELECT app.entrar(set_config('app.identity', $1, true))", [forged]),
            sql.query(count),
          ])
          .catch((e: unknown) => e);
        expect(pgError(err)?.code).toBe("28000");
      }
    },
  );

  it.skipIf(skip)("the genuine token shows the caller's rows (the baseline is not empty)", async () => {
    expect(await baseline()).toEqual({ pacientes: [fx.pacA], fisioterapeutas: [fx.fisioA], audit: 0 });
    const admin = (
      await db.as({ userId: crypto.randomUUID(), role: "admin" }, (sql) => [sql.query(count)])
    )[0]![0] as {
      pacientes: string[];
    };
    expect(admin.pacientes).toEqual(expect.arrayContaining([fx.pacA, fx.pacB]));
  });

  it.skipIf(skip)(
    "the app role cannot mint a token: the database's own signer is out of its reach",
    async () => {
      for (const s of ["SELECT private.token_sistema()", "SELECT * FROM private.chaves_identidade"]) {
        const err = await db.as(fisioA, (sql) => [sql.query(s)]).catch((e: unknown) => e);
        expect(pgError(err)?.code).toBe("42501");
      }
    },
  );

  it.skipIf(skip)("verifies once per statement, not per row: every call sits in an InitPlan", async () => {
    // A fisioterapeuta's consultas and prontuarios: policies with sub-queries (is_fisio_do_paciente).
    const queries = [
      "SELECT * FROM consultas",
      "SELECT * FROM prontuarios WHERE paciente_id IS NOT NULL",
      "SELECT * FROM anexos WHERE paciente_id IS NOT NULL",
      "SELECT * FROM pacientes WHERE status = 'ativo'",
      "SELECT * FROM fisioterapeutas",
    ];
    for (const q of queries) {
      const [plan] = (await db.as(fisioA, (sql) => [sql.query(`EXPLAIN (VERBOSE, FORMAT JSON) ${q}`)])) as {
        "QUERY PLAN": unknown;
      }[][];
      const outside: string[] = [];
      const walk = (node: Record<string, unknown>, inInitPlan: boolean) => {
        const here = inInitPlan || node["Parent Relationship"] === "InitPlan";
        for (const [k, v] of Object.entries(node)) {
          if (k === "Plans") for (const child of v as Record<string, unknown>[]) walk(child, here);
          else if (!here && JSON.stringify(v).includes("identidade"))
            outside.push(`${node["Node Type"]} ${k}`);
        }
      };
      const root = (plan![0]!["QUERY PLAN"] as { Plan: Record<string, unknown> }[])[0]!.Plan;
      walk(root, false);
      expect(outside, q).toEqual([]);
      expect(JSON.stringify(root), q).toContain("identidade");
    }
  });

  it.skipIf(skip)(
    "no SECURITY DEFINER function is executable by PUBLIC; the app role gets only what the API calls",
    async () => {
      const rows = await db.withOwner(async (c) => {
        const r = await c.query(`
        SELECT p.oid::regprocedure::text AS sig,
               p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public,
               has_function_privilege('fisioflow_app', p.oid, 'EXECUTE') AS app
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND n.nspname IN ('public', 'app', 'audit', 'analytics', 'private')`);
        return r.rows as { sig: string; public: boolean; app: boolean }[];
      });
      expect(rows.length).toBeGreaterThan(10);
      expect(rows.filter((r) => r.public).map((r) => r.sig)).toEqual([]);
      expect(
        rows
          .filter((r) => r.app)
          .map((r) => r.sig.replaceAll(", ", ","))
          .sort(),
      ).toEqual(DEFINER_ALLOWED);
    },
  );

  it.skipIf(skip)(
    "an audit trigger function cannot be attached to a table of the app role's own",
    async () => {
      const err = await db
        .as(fisioA, (sql) => [
          sql.query("CREATE TEMP TABLE isca (id uuid)"),
          sql.query(
            "CREATE TRIGGER forja AFTER INSERT ON isca REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION audit.registrar_insert('pacientes')",
          ),
          sql.query("INSERT INTO isca VALUES ($1)", [fx.pacB]),
        ])
        .catch((e: unknown) => e);
      expect(pgError(err)?.code).toBe("42501");
      const forged = await db.system(async (c) => {
        const r = await c.query(
          "SELECT count(*)::int AS n FROM audit.log WHERE row_id = $1 AND actor_id = $2",
          [fx.pacB, fx.fisioA],
        );
        return r.rows[0].n as number;
      });
      expect(forged).toBe(0);
    },
  );

  it.skipIf(skip)("registrar_leitura records only ids the caller can see", async () => {
    const [[r]] = (await db.as(fisioA, (sql) => [
      sql.query("SELECT audit.registrar_leitura('prontuarios', ARRAY[$1::uuid, $2::uuid]) AS n", [
        prontuarioB,
        crypto.randomUUID(),
      ]),
    ])) as { n: number }[][];
    expect(r!.n).toBe(0);
    const n = await db.system(async (c) => {
      const q = await c.query(
        "SELECT count(*)::int AS n FROM audit.log WHERE row_id = $1 AND operacao = 'READ'",
        [prontuarioB],
      );
      return q.rows[0].n as number;
    });
    expect(n).toBe(0);
    // B reading their own prontuario is recorded, in B's name.
    const [[rb]] = (await db.as({ userId: fx.fisioB, role: "fisioterapeuta" }, (sql) => [
      sql.query("SELECT audit.registrar_leitura('prontuarios', ARRAY[$1::uuid]) AS n", [prontuarioB]),
    ])) as { n: number }[][];
    expect(rb!.n).toBe(1);
  });

  it.skipIf(skip)("normal writes are still audited, in the verified caller's name", async () => {
    const [[row]] = (await db.as(fisioA, (sql) => [
      sql.query(
        "INSERT INTO consultas (paciente_id, fisioterapeuta_id, data_consulta, duracao_min) VALUES ($1, $2, '2031-03-03T10:00:00Z', 30) RETURNING id",
        [fx.pacA, fx.fisioA],
      ),
    ])) as { id: string }[][];
    const log = await db.system(async (c) => {
      const r = await c.query("SELECT actor_id, actor_role, operacao FROM audit.log WHERE row_id = $1", [
        row!.id,
      ]);
      return r.rows;
    });
    expect(log).toEqual([{ actor_id: fx.fisioA, actor_role: "fisioterapeuta", operacao: "INSERT" }]);
  });
});
