/**
 * /v1/fisioterapeutas end to end: the worker in workerd against the local Neon endpoint on both
 * database backends and Redis behind the Upstash emulator. Admins manage the staff; GET of one row
 * follows the 0006 policies (self for a fisioterapeuta, their own fisioterapeuta for a paciente).
 * Every call also checks the Neon HTTP round trips it cost.
 */
import { describe, expect, it } from "vitest";
import type { Auth } from "../../db/session";
import type { CallApi } from "../harness/api";
import { apiSuite, expectNoLeak } from "../harness/api-suite";
import { testBackends } from "../harness/backends";

const backends = await testBackends();

describe.each(backends)("/v1/fisioterapeutas on $name", ({ name, skip }) => {
  const suite = apiSuite(name, skip);
  const { api, as, admin, fx } = suite;
  const row = (id: string) =>
    suite.first("SELECT nome, email, crefito, updated_at::text AS v FROM fisioterapeutas WHERE id = $1", [
      id,
    ]);
  const countEmail = (email: string) =>
    suite.count("SELECT count(*)::int AS n FROM fisioterapeutas WHERE email = $1", [email]);
  const fresh = () => `fisio.${crypto.randomUUID()}@x.br`;
  const register = async (over: Record<string, unknown> = {}) => {
    const res = await api(admin, "POST", "/v1/fisioterapeutas", {
      nome: "Fernanda Reis",
      email: fresh(),
      crefito: "CREFITO-3/123456-F",
      ...over,
    });
    expect(res.status).toBe(201);
    return res;
  };

  describe("happy paths", () => {
    it.skipIf(skip)(
      "an admin registers one: 201, Location, ETag, email lowercased, CREFITO canonical",
      async () => {
        const email = `Fernanda.${crypto.randomUUID()}@Example.COM`;
        const res = await api(admin, "POST", "/v1/fisioterapeutas", {
          nome: "  Fernanda Reis ",
          email,
          crefito: " crefito 03/123456f",
        });
        expect(res.status).toBe(201);
        expect(res.roundTrips).toBe(1);
        expect(res.body).toMatchObject({
          nome: "Fernanda Reis",
          email: email.toLowerCase(),
          crefito: "CREFITO-3/123456-F",
        });
        expect(res.headers.get("location")).toBe(`/v1/fisioterapeutas/${res.body.id}`);
        expect(res.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]+"$/);
        expect(await row(res.body.id)).toMatchObject({ crefito: "CREFITO-3/123456-F" });

        const got = await api(admin, "GET", `/v1/fisioterapeutas/${res.body.id}`);
        expect(got.status).toBe(200);
        expect(got.roundTrips).toBe(1);
        expect(got.body).toEqual(res.body);
        expect(got.headers.get("etag")).toBe(res.headers.get("etag"));
        const notModified = await api(admin, "GET", `/v1/fisioterapeutas/${res.body.id}`, undefined, {
          "if-none-match": res.headers.get("etag")!,
        });
        expect(notModified.status).toBe(304);
        expect(notModified.roundTrips).toBe(1);
      },
    );

    it.skipIf(skip)("lists newest first in cursor pages that cover every row once", async () => {
      // Rows of one transaction share created_at: only the id tells them apart in the order.
      await suite.cloud.system(async (c) => {
        for (let i = 0; i < 4; i++)
          await c.query(
            "INSERT INTO fisioterapeutas (nome, email, crefito) VALUES ('Empate', $1, 'CREFITO-1/1-F')",
            [fresh()],
          );
      });
      const created: string[] = [];
      for (let i = 0; i < 3; i++) created.push((await register({ nome: `Página ${i}` })).body.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<CallApi>> = await api(
          admin,
          "GET",
          `/v1/fisioterapeutas?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
        );
        expect(page.status).toBe(200);
        expect(page.roundTrips).toBe(1);
        seen.push(...page.body.data.map((f: { id: string }) => f.id));
        cursor = page.body.next_cursor;
        pages++;
      } while (cursor && pages < 100);
      const all = (
        await suite.cloud.system((c) =>
          c.query("SELECT id FROM fisioterapeutas ORDER BY created_at DESC, id DESC"),
        )
      ).rows.map((r) => r.id);
      expect(seen).toEqual(all);
      expect(seen.slice(0, 3)).toEqual([...created].reverse());
      expect(pages).toBe(Math.ceil(all.length / 2));
    });

    it.skipIf(skip)(
      "PATCH with the current ETag updates; a stale one answers 412 and writes nothing",
      async () => {
        const created = await register();
        const etag = created.headers.get("etag")!;
        const newEmail = fresh();
        const first = await api(
          admin,
          "PATCH",
          `/v1/fisioterapeutas/${created.body.id}`,
          { email: newEmail.toUpperCase(), crefito: "CREFITO-12/99-F" },
          { "if-match": etag },
        );
        expect(first.status).toBe(200);
        expect(first.roundTrips).toBe(1);
        expect(first.body).toMatchObject({
          email: newEmail,
          crefito: "CREFITO-12/99-F",
          nome: "Fernanda Reis",
        });
        expect(first.headers.get("etag")).not.toBe(etag);
        const before = await row(created.body.id);
        const stale = await api(
          admin,
          "PATCH",
          `/v1/fisioterapeutas/${created.body.id}`,
          { nome: "Outra Pessoa" },
          { "if-match": etag },
        );
        expect(stale.status).toBe(412);
        expect(stale.roundTrips).toBe(1);
        expect(stale.body.error.code).toBe("precondition_failed");
        expect(await row(created.body.id)).toEqual(before);
        // Without If-Match the write is unconditional.
        const blind = await api(admin, "PATCH", `/v1/fisioterapeutas/${created.body.id}`, { nome: "Nova" });
        expect(blind.status).toBe(200);
        expect(blind.body.nome).toBe("Nova");
      },
    );

    it.skipIf(skip)("a fisioterapeuta reads self; a paciente reads the one who treats them", async () => {
      const self = await api(as("fisioA"), "GET", `/v1/fisioterapeutas/${fx.fisioA}`);
      expect(self.status).toBe(200);
      expect(self.roundTrips).toBe(1);
      expect(self.body.id).toBe(fx.fisioA);
      const mine = await api(as("pacA"), "GET", `/v1/fisioterapeutas/${fx.fisioA}`);
      expect(mine.status).toBe(200);
      expect(mine.body).toEqual(self.body);
    });

    it.skipIf(skip)("a repeated POST with one Idempotency-Key registers once and replays", async () => {
      const key = `idem-${crypto.randomUUID()}`;
      const body = { nome: "Repetida", email: fresh(), crefito: "CREFITO-2/5-F" };
      const first = await api(admin, "POST", "/v1/fisioterapeutas", body, { "idempotency-key": key });
      const again = await api(admin, "POST", "/v1/fisioterapeutas", body, { "idempotency-key": key });
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.roundTrips).toBe(0);
      expect(await countEmail(body.email)).toBe(1);
    });
  });

  describe("errors", () => {
    it.skipIf(skip)("bad input answers 400 with the fields at fault, and writes nothing", async () => {
      const email = fresh();
      const ok = { nome: "Válida", email, crefito: "CREFITO-3/1-F" };
      const cases: [unknown, string][] = [
        [{ ...ok, crefito: "12345" }, "crefito"],
        [{ ...ok, crefito: "CREFITO-3/123-TO" }, "crefito"],
        [{ ...ok, crefito: "CREFITO-/123-F" }, "crefito"],
        [{ ...ok, crefito: 3 }, "crefito"],
        [{ ...ok, email: "not-an-email" }, "email"],
        [{ ...ok, nome: "" }, "nome"],
        [{ ...ok, nome: "a\u0000b" }, "nome"],
        [{ nome: "Sem email", crefito: "CREFITO-3/1-F" }, "email"],
        [{ ...ok, id: crypto.randomUUID() }, ""],
      ];
      for (const [body, field] of cases) {
        const res = await api(admin, "POST", "/v1/fisioterapeutas", body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe("bad_request");
        expect(res.roundTrips).toBe(0);
        if (field) expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
      }
      expect((await api(admin, "POST", "/v1/fisioterapeutas", "{not json")).status).toBe(400);
      expect(await countEmail(email)).toBe(0);
    });

    it.skipIf(skip)("bad ids, cursors, limits and headers answer 400", async () => {
      for (const path of [
        "/v1/fisioterapeutas/not-a-uuid",
        "/v1/fisioterapeutas?cursor=garbage",
        "/v1/fisioterapeutas?limit=0",
        "/v1/fisioterapeutas?limit=101",
        "/v1/fisioterapeutas?limit=abc",
      ]) {
        const res = await api(admin, "GET", path);
        expect(res.status, path).toBe(400);
        expect(res.roundTrips, path).toBe(0);
      }
      const id = (await register()).body.id;
      const before = await row(id);
      const patch = (body: unknown, headers?: Record<string, string>) =>
        api(admin, "PATCH", `/v1/fisioterapeutas/${id}`, body, headers);
      expect((await patch({})).status).toBe(400);
      expect((await patch({ crefito: "nope" })).status).toBe(400);
      expect((await patch({ nome: "Y" }, { "if-match": "W/garbage, other" })).status).toBe(412);
      expect((await patch({ created_at: "2020-01-01T00:00:00Z" })).status).toBe(400);
      expect(await row(id)).toEqual(before);
    });

    it.skipIf(skip)("a taken email answers a generic 409, on POST and on PATCH", async () => {
      const email = fresh();
      await register({ email });
      const dup = await api(admin, "POST", "/v1/fisioterapeutas", {
        nome: "Segunda",
        email: email.toUpperCase(),
        crefito: "CREFITO-3/2-F",
      });
      expect(dup.status).toBe(409);
      expect(dup.body.error.code).toBe("conflict");
      const text = JSON.stringify(dup.body);
      expect(text).not.toContain(email);
      expect(text).not.toMatch(/Key \(|fisioterapeutas_|constraint/);
      expect(await countEmail(email)).toBe(1);

      const other = (await register()).body.id;
      const before = await row(other);
      const patched = await api(admin, "PATCH", `/v1/fisioterapeutas/${other}`, { email });
      expect(patched.status).toBe(409);
      expect(await row(other)).toEqual(before);
    });

    it.skipIf(skip)("no token answers 401; unknown ids 404", async () => {
      expect((await api(null, "GET", "/v1/fisioterapeutas")).status).toBe(401);
      expect((await api(null, "POST", "/v1/fisioterapeutas", { nome: "X" })).status).toBe(401);
      const missing = await api(admin, "GET", `/v1/fisioterapeutas/${crypto.randomUUID()}`);
      expect(missing.status).toBe(404);
      expect(missing.roundTrips).toBe(1);
      const patch = await api(admin, "PATCH", `/v1/fisioterapeutas/${crypto.randomUUID()}`, { nome: "X" });
      expect(patch.status).toBe(404);
      expect(patch.roundTrips).toBe(1);
    });
  });

  describe("security", () => {
    it.skipIf(skip)("a fisioterapeuta cannot list, register, change self or read a colleague", async () => {
      const a = as("fisioA");
      const before = await row(fx.fisioA);
      const email = fresh();
      const list = await api(a, "GET", "/v1/fisioterapeutas");
      expect(list.status).toBe(403);
      expect(list.roundTrips).toBe(0);
      expect(
        (await api(a, "POST", "/v1/fisioterapeutas", { nome: "Eu", email, crefito: "CREFITO-3/7-F" })).status,
      ).toBe(403);
      expect((await api(a, "PATCH", `/v1/fisioterapeutas/${fx.fisioA}`, { nome: "Promovida" })).status).toBe(
        403,
      );
      const colleague = await api(a, "GET", `/v1/fisioterapeutas/${fx.fisioB}`);
      expect(colleague.status).toBe(404);
      expect(colleague.roundTrips).toBe(1);
      expect(await row(fx.fisioA)).toEqual(before);
      expect(await countEmail(email)).toBe(0);
    });

    it.skipIf(skip)("a paciente reads only their own fisioterapeuta and writes nothing", async () => {
      const p = as("pacA");
      const before = await row(fx.fisioA);
      expect((await api(p, "GET", `/v1/fisioterapeutas/${fx.fisioB}`)).status).toBe(404);
      expect((await api(p, "GET", "/v1/fisioterapeutas")).status).toBe(403);
      expect((await api(p, "PATCH", `/v1/fisioterapeutas/${fx.fisioA}`, { nome: "Trocada" })).status).toBe(
        403,
      );
      const email = fresh();
      expect(
        (await api(p, "POST", "/v1/fisioterapeutas", { nome: "P", email, crefito: "CREFITO-3/8-F" })).status,
      ).toBe(403);
      expect(await row(fx.fisioA)).toEqual(before);
      expect(await countEmail(email)).toBe(0);
    });

    it.skipIf(skip)("a token for a user the database does not know sees nothing", async () => {
      const stranger: Auth = { userId: crypto.randomUUID(), role: "fisioterapeuta" };
      expect((await api(stranger, "GET", `/v1/fisioterapeutas/${fx.fisioA}`)).status).toBe(404);
      const ghost: Auth = { userId: crypto.randomUUID(), role: "paciente" };
      expect((await api(ghost, "GET", `/v1/fisioterapeutas/${fx.fisioA}`)).status).toBe(404);
    });

    it.skipIf(skip)("answers carry no SQL, stack or connection string", async () => {
      const email = fresh();
      await register({ email });
      const res = await api(admin, "POST", "/v1/fisioterapeutas", {
        nome: "X",
        email,
        crefito: "CREFITO-3/1-F",
      });
      expect(res.status).toBe(409);
      expectNoLeak(res.body, ["at ", "duplicate"]);
    });
  });
});
