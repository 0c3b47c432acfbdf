/**
 * /v1/pacientes end to end: the worker in workerd (wrangler's local runtime) against the local
 * Neon endpoint on both database backends and a real redis-server behind the Upstash emulator
 * (in-memory where none runs outside CI). Happy paths, errors, then security; every call also
 * checks the Neon HTTP round trips it cost (one per read and per simple write).
 */
import { describe, expect, it } from "vitest";
import type { Auth } from "../../db/session";
import type { CallApi } from "../harness/api";
import { apiSuite, expectNoLeak } from "../harness/api-suite";
import { testBackends } from "../harness/backends";

const backends = await testBackends();

// Valid CPFs (check digits) for the run; each test takes its own.
const CPFS = ["529.982.247-25", "111.444.777-35", "390.533.447-05", "246.813.579-28", "853.513.468-93"];

describe.each(backends)("/v1/pacientes on $name", ({ name, skip }) => {
  const suite = apiSuite(name, skip);
  const { api, as, admin, fx } = suite;
  const row = (id: string) =>
    suite.first("SELECT nome, email, telefone, status, fisioterapeuta_id FROM pacientes WHERE id = $1", [id]);
  const countWith = (column: "email" | "cpf", value: string) =>
    suite.count(`SELECT count(*)::int AS n FROM pacientes WHERE ${column} = $1`, [value]);

  describe("happy paths", () => {
    it.skipIf(skip)(
      "a fisioterapeuta registers a paciente of their own: 201, Location, ETag, CPF as digits",
      async () => {
        const res = await api(as("fisioA"), "POST", "/v1/pacientes", {
          nome: "Maria Conceição",
          email: `Maria.${name}@Example.com`,
          telefone: "(11) 98888-0000",
          data_nascimento: "1980-02-29",
          cpf: CPFS[0],
        });
        expect(res.status).toBe(201);
        expect(res.roundTrips).toBe(1);
        expect(res.body).toMatchObject({
          nome: "Maria Conceição",
          email: `maria.${name}@example.com`,
          cpf: "52998224725",
          data_nascimento: "1980-02-29",
          status: "ativo",
          fisioterapeuta_id: fx.fisioA,
        });
        expect(res.headers.get("location")).toBe(`/v1/pacientes/${res.body.id}`);
        expect(res.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]+"$/);

        const got = await api(as("fisioA"), "GET", `/v1/pacientes/${res.body.id}`);
        expect(got.status).toBe(200);
        expect(got.roundTrips).toBe(1);
        expect(got.body).toEqual(res.body);
        expect(got.headers.get("etag")).toBe(res.headers.get("etag"));
        const notModified = await api(as("fisioA"), "GET", `/v1/pacientes/${res.body.id}`, undefined, {
          "if-none-match": res.headers.get("etag")!,
        });
        expect(notModified.status).toBe(304);
        expect(notModified.roundTrips).toBe(0); // served from the cache
      },
    );

    it.skipIf(skip)("a cached read costs no round trip, and the writer never reads stale data", async () => {
      const id = (await api(as("fisioA"), "POST", "/v1/pacientes", { nome: "Cache Antes" })).body.id;
      expect((await api(as("fisioA"), "GET", `/v1/pacientes/${id}`)).roundTrips).toBe(1);
      const hit = await api(as("fisioA"), "GET", `/v1/pacientes/${id}`);
      expect([hit.status, hit.roundTrips, hit.body.nome]).toEqual([200, 0, "Cache Antes"]);
      await api(as("fisioA"), "PATCH", `/v1/pacientes/${id}`, { nome: "Cache Depois" });
      const after = await api(as("fisioA"), "GET", `/v1/pacientes/${id}`);
      expect([after.roundTrips, after.body.nome]).toEqual([1, "Cache Depois"]);
      await api(as("fisioA"), "DELETE", `/v1/pacientes/${id}`);
      expect((await api(as("fisioA"), "GET", `/v1/pacientes/${id}`)).body.status).toBe("inativo");
      // Another caller gets what the database says for them, not A's cached copy.
      const other = await api(as("fisioB"), "GET", `/v1/pacientes/${id}`);
      expect([other.status, other.roundTrips]).toEqual([404, 1]);
    });

    it.skipIf(skip)("an admin registers for a named fisioterapeuta", async () => {
      const res = await api(admin, "POST", "/v1/pacientes", {
        nome: "Pedro Admin",
        fisioterapeuta_id: fx.fisioB,
      });
      expect(res.status).toBe(201);
      expect(res.body.fisioterapeuta_id).toBe(fx.fisioB);
    });

    it.skipIf(skip)("lists newest first in cursor pages that cover every row once", async () => {
      const fisio: Auth = { userId: crypto.randomUUID(), role: "fisioterapeuta" };
      await suite.cloud.system((c) =>
        c.query(
          "INSERT INTO fisioterapeutas (id, nome, email, crefito) VALUES ($1, 'Paginada', $2, 'CREFITO-9/9-F')",
          [fisio.userId, `pag.${fisio.userId}@x.br`],
        ),
      );
      const created: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await api(fisio, "POST", "/v1/pacientes", { nome: `Página ${i}` });
        expect(r.status).toBe(201);
        created.push(r.body.id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<CallApi>> = await api(
          fisio,
          "GET",
          `/v1/pacientes?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
        );
        expect(page.status).toBe(200);
        expect(page.roundTrips).toBe(1);
        seen.push(...page.body.data.map((p: { id: string }) => p.id));
        cursor = page.body.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual([...created].reverse());
    });

    it.skipIf(skip)("searches in Portuguese: accents, stems and a typo find the name, ranked", async () => {
      const mk = async (nome: string) =>
        (await api(as("fisioA"), "POST", "/v1/pacientes", { nome })).body.id as string;
      const joao = await mk("João Oliveira Santos");
      await mk("Joana Prado");
      for (const q of ["joao", "JOÃO oliveira", "joao olivera"]) {
        const res = await api(as("fisioA"), "GET", `/v1/pacientes?q=${encodeURIComponent(q)}`);
        expect(res.status, q).toBe(200);
        expect(res.roundTrips, q).toBe(1);
        expect(res.body.data[0]?.id, q).toBe(joao);
      }
      const inactive = await api(as("fisioA"), "GET", `/v1/pacientes?q=joao&status=inativo`);
      expect(inactive.body.data.map((p: { id: string }) => p.id)).not.toContain(joao);
    });

    it.skipIf(skip)(
      "PATCH with the current ETag updates; a stale one answers 412 and writes nothing",
      async () => {
        const created = await api(as("fisioA"), "POST", "/v1/pacientes", {
          nome: "Ana Receção",
          telefone: "11 3333-4444",
        });
        const etag = created.headers.get("etag")!;
        const first = await api(
          as("fisioA"),
          "PATCH",
          `/v1/pacientes/${created.body.id}`,
          { telefone: null },
          {
            "if-match": etag,
          },
        );
        expect(first.status).toBe(200);
        expect(first.roundTrips).toBe(1);
        expect(first.body.telefone).toBeNull();
        expect(first.headers.get("etag")).not.toBe(etag);
        // A second receptionist still holding the first ETag.
        const stale = await api(
          as("fisioA"),
          "PATCH",
          `/v1/pacientes/${created.body.id}`,
          { nome: "Ana Errada" },
          {
            "if-match": etag,
          },
        );
        expect(stale.status).toBe(412);
        expect(stale.body.error.code).toBe("precondition_failed");
        expect((await row(created.body.id)).nome).toBe("Ana Receção");
      },
    );

    it.skipIf(skip)("DELETE deactivates and keeps the record", async () => {
      const created = await api(as("fisioA"), "POST", "/v1/pacientes", { nome: "Carlos Alta" });
      const del = await api(as("fisioA"), "DELETE", `/v1/pacientes/${created.body.id}`);
      expect(del.status).toBe(204);
      expect(del.roundTrips).toBe(1);
      expect(await row(created.body.id)).toMatchObject({ nome: "Carlos Alta", status: "inativo" });
    });

    it.skipIf(skip)(
      "a repeated POST with one Idempotency-Key registers once and replays the answer",
      async () => {
        const key = `idem-${crypto.randomUUID()}`;
        const body = { nome: "Repetida", email: `rep.${key}@x.br` };
        const first = await api(as("fisioA"), "POST", "/v1/pacientes", body, { "idempotency-key": key });
        const again = await api(as("fisioA"), "POST", "/v1/pacientes", body, { "idempotency-key": key });
        expect(first.status).toBe(201);
        expect(again.status).toBe(201);
        expect(again.body).toEqual(first.body);
        expect(again.headers.get("idempotent-replayed")).toBe("true");
        expect(again.headers.get("location")).toBe(first.headers.get("location"));
        expect(again.roundTrips).toBe(0);
        expect(await countWith("email", body.email)).toBe(1);
        const other = await api(
          as("fisioA"),
          "POST",
          "/v1/pacientes",
          { ...body, nome: "Outra" },
          {
            "idempotency-key": key,
          },
        );
        expect(other.status).toBe(422);
        expect(other.body.error.code).toBe("idempotency_key_reused");
      },
    );
  });

  describe("LGPD", () => {
    it.skipIf(skip)(
      "export: the paciente's data as one document, for self or an admin, read audited",
      async () => {
        const id = (await api(as("fisioA"), "POST", "/v1/pacientes", { nome: "Exportada", cpf: CPFS[2] }))
          .body.id;
        await suite.cloud.system(async (c) => {
          await c.query(
            "INSERT INTO consultas (paciente_id, fisioterapeuta_id, data_consulta) VALUES ($1, $2, now() + interval '3 days')",
            [id, fx.fisioA],
          );
          await c.query(
            "INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, conteudo) VALUES ($1, $2, 'Evolução')",
            [id, fx.fisioA],
          );
        });
        const self: Auth = { userId: id, role: "paciente" };
        for (const who of [self, admin]) {
          const res = await api(who, "GET", `/v1/pacientes/${id}/export`);
          expect(res.status, who.role).toBe(200);
          expect(res.roundTrips).toBe(1);
          expect(res.body.paciente).toMatchObject({ id, nome: "Exportada", cpf: "39053344705" });
          expect(res.body.consultas).toHaveLength(1);
          expect(res.body.prontuarios.map((p: { conteudo: string }) => p.conteudo)).toEqual(["Evolução"]);
          expect(res.body.prescricoes).toEqual([]);
        }
        const audited = await suite.cloud.system((c) =>
          c.query(
            `SELECT actor_role, count(*)::int AS n FROM audit.log
            WHERE tabela = 'prontuarios' AND operacao = 'READ' AND row_id IN (SELECT id FROM prontuarios WHERE paciente_id = $1)
            GROUP BY actor_role ORDER BY actor_role`,
            [id],
          ),
        );
        expect(audited.rows).toEqual([
          { actor_role: "admin", n: 1 },
          { actor_role: "paciente", n: 1 },
        ]);
        // Nobody else: not the fisioterapeuta (not an LGPD route of theirs), not another paciente.
        expect((await api(as("fisioA"), "GET", `/v1/pacientes/${id}/export`)).status).toBe(403);
        expect((await api(as("pacB"), "GET", `/v1/pacientes/${id}/export`)).status).toBe(404);
      },
    );

    it.skipIf(skip)("anonymize: admin only, personal data gone for good, clinical records kept", async () => {
      const email = `anon.${crypto.randomUUID()}@x.br`;
      const created = await api(as("fisioA"), "POST", "/v1/pacientes", {
        nome: "Anônima",
        email,
        cpf: CPFS[3],
      });
      const id = created.body.id;
      await api(as("fisioA"), "GET", `/v1/pacientes/${id}`); // cached for fisioA
      const denied = await api(as("fisioA"), "POST", `/v1/pacientes/${id}/anonymize`);
      expect(denied.status, JSON.stringify(denied.body)).toBe(403);
      const res = await api(admin, "POST", `/v1/pacientes/${id}/anonymize`);
      expect(res.status).toBe(200);
      expect(res.roundTrips).toBe(1);
      expect(res.body).toMatchObject({
        nome: "Paciente anonimizado",
        email: null,
        cpf: null,
        status: "anonimizado",
      });
      const seen = await api(as("fisioA"), "GET", `/v1/pacientes/${id}`);
      expect(seen.body.nome).toBe("Paciente anonimizado");
      // Nothing brings it back: no PATCH of an anonymised paciente, not even by an admin.
      const revive = await api(admin, "PATCH", `/v1/pacientes/${id}`, { status: "ativo", nome: "De volta" });
      expect([revive.status, revive.body.error.code]).toEqual([409, "conflict"]);
      expect(await row(id)).toMatchObject({ nome: "Paciente anonimizado", status: "anonimizado" });
      const anon = await suite.cloud.system((c) =>
        c.query("SELECT count(*)::int AS n FROM audit.log WHERE row_id = $1 AND operacao = 'ANONYMIZE'", [
          id,
        ]),
      );
      expect(anon.rows[0].n).toBe(1);
      expect((await api(admin, "POST", `/v1/pacientes/${crypto.randomUUID()}/anonymize`)).status).toBe(404);
      // The old email can be registered again: nothing of it is left.
      expect((await api(as("fisioA"), "POST", "/v1/pacientes", { nome: "Nova", email })).status).toBe(201);
    });
  });

  describe("errors", () => {
    it.skipIf(skip)("bad input answers 400 with the fields at fault, and writes nothing", async () => {
      const cases: [unknown, string][] = [
        [{ nome: "X", cpf: "123.456.789-00" }, "cpf"],
        [{ nome: "" }, "nome"],
        [{ nome: "X", email: "not-an-email" }, "email"],
        [{ nome: "X", data_nascimento: "2999-01-01" }, "data_nascimento"],
        [{ nome: "X", status: "ativo" }, ""],
        [{ nome: "X", fisioterapeuta_id: "42" }, "fisioterapeuta_id"],
      ];
      for (const [body, field] of cases) {
        const res = await api(as("fisioA"), "POST", "/v1/pacientes", body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe("bad_request");
        expect(res.roundTrips).toBe(0);
        if (field) expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
      }
      expect((await api(as("fisioA"), "POST", "/v1/pacientes", "{not json")).status).toBe(400);
      expect((await api(admin, "POST", "/v1/pacientes", { nome: "Sem fisio" })).status).toBe(400);
    });

    it.skipIf(skip)("bad ids, cursors, queries and headers answer 400", async () => {
      for (const path of [
        "/v1/pacientes/not-a-uuid",
        "/v1/pacientes?cursor=garbage",
        "/v1/pacientes?limit=0",
        "/v1/pacientes?limit=101",
        "/v1/pacientes?status=morto",
        `/v1/pacientes?q=${"x".repeat(201)}`,
      ]) {
        const res = await api(as("fisioA"), "GET", path);
        expect(res.status, path).toBe(400);
      }
      const id = (await api(as("fisioA"), "POST", "/v1/pacientes", { nome: "Cabeçalho" })).body.id;
      const patch = (body: unknown, headers?: Record<string, string>) =>
        api(as("fisioA"), "PATCH", `/v1/pacientes/${id}`, body, headers);
      expect((await patch({})).status).toBe(400);
      expect((await patch({ nome: "Y" }, { "if-match": "W/garbage, other" })).status).toBe(412);
      // Strong comparison: a weak ETag, another server's or garbage never matches (412, not 400).
      for (const foreign of ['"abc"', 'W/"x"', "garbage"]) {
        expect((await patch({ nome: "Y" }, { "if-match": foreign })).status, foreign).toBe(412);
      }
      expect((await patch({ status: "anonimizado" })).status).toBe(400);
      expect(
        (
          await api(
            as("fisioA"),
            "POST",
            "/v1/pacientes",
            { nome: "Z" },
            { "idempotency-key": "spaces are bad" },
          )
        ).status,
      ).toBe(400);
    });

    it.skipIf(skip)(
      "a taken email or CPF answers a generic 409 that does not say where it exists",
      async () => {
        const email = `dup.${crypto.randomUUID()}@x.br`;
        expect(
          (await api(as("fisioA"), "POST", "/v1/pacientes", { nome: "Primeira", email, cpf: CPFS[1] }))
            .status,
        ).toBe(201);
        // Another clinic's fisioterapeuta tries the same values.
        for (const body of [
          { nome: "Segunda", email },
          { nome: "Terceira", cpf: CPFS[1] },
        ]) {
          const res = await api(as("fisioB"), "POST", "/v1/pacientes", body);
          expect(res.status).toBe(409);
          expect(res.body.error.code).toBe("conflict");
          const text = JSON.stringify(res.body);
          expect(text).not.toContain(email);
          expect(text).not.toContain("11144477735");
          expect(text).not.toMatch(/Key \(|pacientes_|constraint/);
        }
        expect(await countWith("email", email)).toBe(1);
      },
    );

    it.skipIf(skip)("those 409s are rate-limited per user", async () => {
      const email = `limit.${crypto.randomUUID()}@x.br`;
      await api(as("fisioA"), "POST", "/v1/pacientes", { nome: "Dona", email });
      const prober: Auth = { userId: fx.fisioB, role: "fisioterapeuta" };
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++)
        statuses.push((await api(prober, "POST", "/v1/pacientes", { nome: "P", email })).status);
      // Earlier tests spent some of fisioB's allowance: 409s, then 429 once it runs out.
      expect(statuses.at(-1)).toBe(429);
      expect(statuses.filter((s) => s !== 409 && s !== 429)).toEqual([]);
    });

    it.skipIf(skip)("missing, malformed and expired tokens answer 401; unknown ids 404", async () => {
      expect((await api(null, "GET", "/v1/pacientes")).status).toBe(401);
      const bad = await fetch(`${suite.cloud.workerUrl}/v1/pacientes`, {
        headers: { authorization: "Bearer x.y.z" },
      });
      expect(bad.status).toBe(401);
      const missing = await api(as("fisioA"), "GET", `/v1/pacientes/${crypto.randomUUID()}`);
      expect(missing.status).toBe(404);
      expect(missing.roundTrips).toBe(1);
    });
  });

  describe("security", () => {
    it.skipIf(skip)(
      "fisioterapeuta B cannot read, list, search, update or deactivate A's paciente",
      async () => {
        const before = await row(fx.pacA);
        const b = as("fisioB");
        expect((await api(b, "GET", `/v1/pacientes/${fx.pacA}`)).status).toBe(404);
        const list = await api(b, "GET", "/v1/pacientes?limit=100");
        expect(list.body.data.map((p: { id: string }) => p.id)).not.toContain(fx.pacA);
        const search = await api(b, "GET", "/v1/pacientes?q=carla");
        expect(search.body.data.map((p: { id: string }) => p.id)).not.toContain(fx.pacA);
        expect((await api(b, "PATCH", `/v1/pacientes/${fx.pacA}`, { nome: "Roubada" })).status).toBe(404);
        expect((await api(b, "DELETE", `/v1/pacientes/${fx.pacA}`)).status).toBe(404);
        expect(await row(fx.pacA)).toEqual(before);
      },
    );

    it.skipIf(skip)("a fisioterapeuta cannot register a paciente in another's name", async () => {
      const email = `alheio.${crypto.randomUUID()}@x.br`;
      const res = await api(as("fisioB"), "POST", "/v1/pacientes", {
        nome: "Alheio",
        email,
        fisioterapeuta_id: fx.fisioA,
      });
      expect(res.status).toBe(403);
      expect(await countWith("email", email)).toBe(0);
    });

    it.skipIf(skip)("a paciente sees only self and writes nothing", async () => {
      const self = await api(as("pacA"), "GET", `/v1/pacientes/${fx.pacA}`);
      expect(self.status).toBe(200);
      expect((await api(as("pacA"), "GET", `/v1/pacientes/${fx.pacB}`)).status).toBe(404);
      const list = await api(as("pacA"), "GET", "/v1/pacientes");
      expect(list.body.data.map((p: { id: string }) => p.id)).toEqual([fx.pacA]);
      const before = await row(fx.pacA);
      expect((await api(as("pacA"), "POST", "/v1/pacientes", { nome: "Eu de novo" })).status).toBe(403);
      expect((await api(as("pacA"), "PATCH", `/v1/pacientes/${fx.pacA}`, { nome: "Outro" })).status).toBe(
        403,
      );
      expect((await api(as("pacA"), "DELETE", `/v1/pacientes/${fx.pacA}`)).status).toBe(403);
      expect(await row(fx.pacA)).toEqual(before);
    });

    it.skipIf(skip)("answers carry no SQL, stack or connection string", async () => {
      const res = await api(as("fisioA"), "POST", "/v1/pacientes", {
        nome: "X",
        fisioterapeuta_id: crypto.randomUUID(),
      });
      expect([403, 422]).toContain(res.status);
      expectNoLeak(res.body, ["at "]);
    });
  });
});
