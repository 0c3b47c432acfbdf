/**
 * Property test (fast-check) over every operation in /openapi.json, with the app in process
 * against a migrated local endpoint: random and malformed bodies, path params, query strings and
 * headers, from callers of every role (and none). Whatever comes in, no answer is a 5xx, and no
 * body carries a stack trace, SQL or a driver message.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppRole } from "../../db/session";
import { createApp } from "../../functions/app";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, ownerSessions } from "../harness/db";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import type { Json } from "../harness/http";
import { startR2, type TestR2 } from "../harness/r2";

const backends = await testBackends();
const RUNS_PER_OPERATION = 25;
const LEAKS =
  /\bat [\w.<>]+ \(|SELECT |INSERT |UPDATE |DELETE FROM|NeonDbError|postgres(ql)?:\/\/|violates|syntax error|node_modules/;

describe.each(backends)("fuzzing every operation on $name", ({ name, skip }) => {
  let db: TestEndpoint;
  let r2: TestR2;
  let fx: Fixture;
  let env: Record<string, unknown>;
  const app = createApp();
  let operations: { method: string; path: string }[] = [];

  beforeAll(async () => {
    if (skip) return;
    // With the local Neon API, so the control-plane routes are fuzzed too (not just their 503).
    db = await startTestEndpoint(name, { prefix: "fuzz", migrate: true, neonApi: true });
    const owner = ownerSessions(db.ownerUrl);
    fx = await createFixture(owner);
    await owner.end();
    // The attachment routes' bucket (miniflare's R2): without one they answer 503 by design.
    r2 = await startR2();
    env = {
      FILES: r2.bucket,
      NEON_FETCH_ENDPOINT: db.endpoint.sqlUrl,
      DATABASE_URL: db.appUrl,
      NEON_API_URL: db.neonApi!.url,
      NEON_API_KEY: db.neonApi!.apiKey,
      NEON_PROJECT_ID: db.neonApi!.projectId,
    };
    const doc = (await (await requestApp(app, "/openapi.json")).json()) as Json;
    operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })),
    );
  });
  afterAll(async () => {
    await r2?.close();
    await db?.close();
  });

  const idArb = () =>
    fc.oneof(
      fc.uuid(),
      fc.constantFrom("not-a-uuid", "", "00000000-0000-0000-0000-000000000000", "%00", "..", "1 OR 1=1"),
      fc.string({ maxLength: 40 }),
    );
  const jsonish = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc
      .dictionary(
        fc.constantFrom(
          "nome",
          "email",
          "cpf",
          "status",
          "paciente_id",
          "fisioterapeuta_id",
          "data_consulta",
          "duracao_min",
          "conteudo",
          "exercicio_id",
          "series",
          "x",
        ),
        fc.oneof(
          fc.string({ maxLength: 30 }),
          fc.integer(),
          fc.double(),
          fc.boolean(),
          fc.constant(null),
          fc.uuid(),
        ),
      )
      .map((o) => JSON.stringify(o)),
    fc.string({ maxLength: 60 }),
    fc.constantFrom("{", "null", "[]", '{"nome":', "\u0000", "{}"),
  );
  const queryArb = fc.dictionary(
    fc.constantFrom(
      "q",
      "status",
      "limit",
      "cursor",
      "paciente_id",
      "fisioterapeuta_id",
      "from",
      "to",
      "categoria",
      "versions",
      "nome",
      "zzz",
    ),
    fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.integer().map(String),
      fc.uuid(),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    ),
    { maxKeys: 4 },
  );
  // The upload's file name header: well encoded (any text, so separators, controls and lengths
  // too), malformed percent-encoding, or raw printable ASCII (a header value cannot be more).
  const nomeArquivoArb = fc.oneof(
    fc.string({ maxLength: 40 }).map(encodeURIComponent),
    fc.string({ unit: "grapheme", maxLength: 210 }).map(encodeURIComponent),
    fc.constantFrom("%", "%E0%A4%A", "%C3%28", "%FF", "..%2F..", "%00", "", "exame.pdf"),
    fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 40,
    }),
  );
  const roleArb = fc.constantFrom<AppRole | null | "garbage">(
    "admin",
    "fisioterapeuta",
    "paciente",
    null,
    "garbage",
  );

  it.skipIf(skip)(
    "never answers 5xx and never leaks internals",
    async () => {
      expect(operations.length).toBeGreaterThanOrEqual(8);
      const secret = IN_PROCESS_ENV.JWT_SECRET!;
      for (const op of operations) {
        await fc.assert(
          fc.asyncProperty(
            idArb(),
            jsonish,
            queryArb,
            roleArb,
            fc.record({
              "if-match": fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
              "idempotency-key": fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
              "x-nome-arquivo": fc.option(nomeArquivoArb, { nil: undefined }),
              "content-type": fc.constantFrom(
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
                "application/pdf",
                "image/png",
              ),
            }),
            async (id, body, query, role, extra) => {
              const path = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(id));
              const qs = new URLSearchParams(query).toString();
              const headers: Record<string, string> = Object.fromEntries(
                Object.entries(extra).filter((e): e is [string, string] => e[1] !== undefined),
              );
              if (role === "garbage") headers.authorization = "Bearer not.a.token";
              else if (role) {
                const userId =
                  role === "fisioterapeuta" ? fx.fisioA : role === "paciente" ? fx.pacA : crypto.randomUUID();
                headers.authorization = `Bearer ${await tokenFor({ userId, role }, secret)}`;
              }
              const init: RequestInit = { method: op.method, headers };
              if (op.method !== "GET" && op.method !== "DELETE") init.body = body;
              const res = await requestApp(app, `${path}${qs ? `?${qs}` : ""}`, init, env);
              const text = await res.text();
              if (res.status >= 500 || LEAKS.test(text)) {
                throw new Error(`${op.method} ${path}?${qs} → ${res.status}: ${text.slice(0, 300)}`);
              }
            },
          ),
          { numRuns: RUNS_PER_OPERATION, seed: 20261129 + operations.indexOf(op) },
        );
      }
    },
    240_000,
  );
});
