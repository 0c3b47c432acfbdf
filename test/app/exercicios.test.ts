/**
 * /v1/exercicios end to end: the worker in workerd against the local Neon endpoint on both
 * database backends and Redis behind the Upstash emulator. The catalog read is cached in Redis: a
 * hit costs no Neon round trip, a write through the API clears it, and with Redis down the read
 * still answers from the database. Each test uses a categoria of its own, so cached pages of one
 * test (or of an earlier run: the Redis db is shared and never flushed) never meet another's.
 */
import { describe, expect, it } from "vitest";
import type { Auth } from "../../db/session";
import { apiClient, type CallApi } from "../harness/api";
import { apiSuite, expectNoLeak, startAppCloud } from "../harness/api-suite";
import { testBackends } from "../harness/backends";
import { startWorker } from "../harness/cloud";

const backends = await testBackends();

describe.each(backends)("/v1/exercicios on $name", ({ name, skip }) => {
  const suite = apiSuite(name, skip);
  const { api, as, admin } = suite;
  const categoria = () => `cat-${crypto.randomUUID()}`;
  const ids = (res: { body: { data: { id: string }[] } }) => res.body.data.map((e) => e.id);
  const countNome = (nome: string) =>
    suite.count("SELECT count(*)::int AS n FROM exercicios WHERE nome = $1", [nome]);
  const add = async (who: Auth, cat: string, nome = `Exercício ${crypto.randomUUID()}`) => {
    const res = await api(who, "POST", "/v1/exercicios", { nome, categoria: cat });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const list = (who: Auth, query: string) => api(who, "GET", `/v1/exercicios?${query}`);

  describe("happy paths", () => {
    it.skipIf(skip)("a fisioterapeuta and an admin add to the catalog: 201, trimmed fields", async () => {
      const cat = categoria();
      const nome = `Ponte de glúteos ${crypto.randomUUID()}`;
      const res = await api(as("fisioA"), "POST", "/v1/exercicios", {
        nome: `  ${nome} `,
        descricao: "Deitado, elevar o quadril",
        categoria: ` ${cat} `,
      });
      expect(res.status).toBe(201);
      expect(res.roundTrips).toBe(1);
      expect(res.body).toMatchObject({ nome, descricao: "Deitado, elevar o quadril", categoria: cat });
      expect(Date.parse(res.body.created_at)).not.toBeNaN();
      const byAdmin = await api(admin, "POST", "/v1/exercicios", {
        nome: `Agachamento ${cat}`,
        categoria: cat,
      });
      expect(byAdmin.status).toBe(201);
      expect(byAdmin.body.descricao).toBeNull();
      expect(await countNome(nome)).toBe(1);
    });

    it.skipIf(skip)(
      "lists one categoria alphabetically in cursor pages that cover it once, any script in the names",
      async () => {
        const cat = categoria();
        // Names outside Latin-1 (dash, emoji, CJK) must survive the cursor.
        for (const nome of ["Alongamento — isquios", "Bicicleta 🚲", "Caminhada", "Dança", "太极"])
          await add(admin, cat, `${nome} ${cat}`);
        await add(admin, categoria());
        const expected = (
          await suite.cloud.system((c) =>
            c.query("SELECT id FROM exercicios WHERE categoria = $1 ORDER BY nome, id", [cat]),
          )
        ).rows.map((r) => r.id);
        expect(expected).toHaveLength(5);
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<CallApi>> = await list(
            as("pacA"),
            `categoria=${encodeURIComponent(cat)}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
          );
          expect(page.status).toBe(200);
          expect(page.roundTrips).toBe(1);
          expect(page.body.data.every((e: { categoria: string }) => e.categoria === cat)).toBe(true);
          seen.push(...ids(page));
          cursor = page.body.next_cursor;
          pages++;
        } while (cursor && pages < 10);
        expect(pages).toBe(3);
        expect(seen).toEqual(expected);
      },
    );

    it.skipIf(skip)("a repeated read is served from Redis at no round trip, to every role", async () => {
      const cat = categoria();
      await add(admin, cat);
      await add(admin, cat);
      const q = `categoria=${cat}&limit=1`;
      const first = await list(admin, q);
      expect(first.status).toBe(200);
      expect(first.roundTrips).toBe(1);
      expect(first.body.data).toHaveLength(1);
      // exercicios_read shows every role the same rows: one shared entry.
      for (const who of [admin, as("fisioA"), as("pacA")]) {
        const again = await list(who, q);
        expect(again.status).toBe(200);
        expect(again.roundTrips).toBe(0);
        expect(again.body).toEqual(first.body);
      }
      // Other query values are other entries.
      const second = await list(admin, `${q}&cursor=${first.body.next_cursor}`);
      expect(second.roundTrips).toBe(1);
      expect(ids(second)).not.toEqual(ids(first));
      const wider = await list(admin, `categoria=${cat}&limit=2`);
      expect(wider.roundTrips).toBe(1);
      expect(wider.body.data).toHaveLength(2);
      const otherCat = await list(admin, `categoria=${categoria()}&limit=1`);
      expect(otherCat.roundTrips).toBe(1);
      expect(otherCat.body.data).toEqual([]);
    });

    it.skipIf(skip)("a write clears the cache: the writer's next read sees what it wrote", async () => {
      const cat = categoria();
      const a = await add(as("fisioA"), cat);
      const q = `categoria=${cat}`;
      expect(ids(await list(as("fisioA"), q))).toEqual([a]);
      expect((await list(as("fisioA"), q)).roundTrips).toBe(0);
      // Also the unfiltered pages: one write makes every page of the catalog stale.
      await list(as("fisioA"), "limit=100");
      const b = await add(as("fisioA"), cat);
      const after = await list(as("fisioA"), q);
      expect(after.roundTrips).toBe(1);
      expect(ids(after).sort()).toEqual([a, b].sort());
      expect((await list(as("fisioA"), "limit=100")).roundTrips).toBe(1);
      expect((await list(as("pacA"), q)).roundTrips).toBe(0);
    });

    it.skipIf(skip)("with Redis down the catalog is still read and written, from the database", async () => {
      const broken = await startWorker({
        ...suite.cloud.vars,
        // Nothing listens on port 9 of loopback.
        UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
      });
      try {
        const down = apiClient({ ...suite.cloud, workerUrl: `http://${broken.address}:${broken.port}` });
        const cat = categoria();
        const created = await down(as("fisioA"), "POST", "/v1/exercicios", {
          nome: `Sem cache ${cat}`,
          categoria: cat,
        });
        expect(created.status).toBe(201);
        for (let i = 0; i < 2; i++) {
          const res = await down(as("pacA"), "GET", `/v1/exercicios?categoria=${cat}`);
          expect(res.status).toBe(200);
          expect(res.roundTrips).toBe(1);
          expect(ids(res)).toEqual([created.body.id]);
        }
      } finally {
        await broken.stop();
      }
    });

    it.skipIf(skip)("a repeated POST with one Idempotency-Key adds once and replays", async () => {
      const key = `idem-${crypto.randomUUID()}`;
      const body = { nome: `Repetido ${key}`, categoria: categoria() };
      const first = await api(as("fisioA"), "POST", "/v1/exercicios", body, { "idempotency-key": key });
      const again = await api(as("fisioA"), "POST", "/v1/exercicios", body, { "idempotency-key": key });
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.roundTrips).toBe(0);
      expect(await countNome(body.nome)).toBe(1);
    });
  });

  describe("errors", () => {
    it.skipIf(skip)("bad input answers 400 with the fields at fault, and writes nothing", async () => {
      const nome = `Inválido ${crypto.randomUUID()}`;
      const cases: [unknown, string][] = [
        [{ nome, categoria: "" }, "categoria"],
        [{ nome }, "categoria"],
        [{ nome: "", categoria: "x" }, "nome"],
        [{ nome: "x".repeat(201), categoria: "x" }, "nome"],
        [{ nome: `${nome}\u0000`, categoria: "x" }, "nome"],
        [{ nome, categoria: "x", descricao: 42 }, "descricao"],
        [{ nome, categoria: "x\u0000" }, "categoria"],
        [{ nome, categoria: "x", id: crypto.randomUUID() }, ""],
      ];
      for (const [body, field] of cases) {
        const res = await api(admin, "POST", "/v1/exercicios", body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe("bad_request");
        expect(res.roundTrips).toBe(0);
        if (field) expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
      }
      expect((await api(admin, "POST", "/v1/exercicios", "{not json")).status).toBe(400);
      expect(await countNome(nome)).toBe(0);
    });

    it.skipIf(skip)("bad cursors, limits and filters answer 400, and are never cached", async () => {
      const bad = (n: string) =>
        btoa(JSON.stringify({ n, id: crypto.randomUUID() }))
          .replaceAll("+", "-")
          .replaceAll("/", "_")
          .replaceAll("=", "");
      for (const query of [
        "cursor=garbage",
        `cursor=${bad("%E0%A4%A")}`,
        `cursor=${bad("%00")}`,
        "limit=0",
        "limit=101",
        `categoria=${"x".repeat(101)}`,
        "categoria=%00",
      ]) {
        for (let i = 0; i < 2; i++) {
          const res = await list(as("pacA"), query);
          expect(res.status, query).toBe(400);
          expect(res.body.error.code).toBe("bad_request");
          expect(res.roundTrips).toBe(0);
        }
      }
    });

    it.skipIf(skip)("a taken nome answers 409 without the constraint, and writes nothing", async () => {
      const cat = categoria();
      const nome = `Único ${cat}`;
      await add(as("fisioA"), cat, nome);
      const dup = await api(admin, "POST", "/v1/exercicios", { nome, categoria: categoria() });
      expect(dup.status).toBe(409);
      expect(dup.body.error.code).toBe("conflict");
      expect(JSON.stringify(dup.body)).not.toMatch(/Key \(|exercicios_|constraint|duplicate/);
      expect(await countNome(nome)).toBe(1);
    });

    it.skipIf(skip)("no token answers 401", async () => {
      expect((await api(null, "GET", "/v1/exercicios")).status).toBe(401);
      expect((await api(null, "POST", "/v1/exercicios", { nome: "X", categoria: "y" })).status).toBe(401);
    });
  });

  describe("security", () => {
    it.skipIf(skip)("a paciente reads the catalog but cannot add to it", async () => {
      const cat = categoria();
      const existing = await add(admin, cat);
      expect(ids(await list(as("pacA"), `categoria=${cat}`))).toEqual([existing]);
      const nome = `Do paciente ${cat}`;
      const res = await api(as("pacA"), "POST", "/v1/exercicios", { nome, categoria: cat });
      expect(res.status).toBe(403);
      expect(res.roundTrips).toBe(0);
      expect(await countNome(nome)).toBe(0);
    });

    it.skipIf(skip)("the catalog page of one database is never served for another", async () => {
      // A second cloud on its own database, over the same Redis: the same query, other rows.
      const other = await startAppCloud(name);
      try {
        const here = await list(as("pacA"), "limit=100");
        expect(here.body.data.length).toBeGreaterThan(0);
        const there = await apiClient(other)(
          { userId: crypto.randomUUID(), role: "admin" },
          "GET",
          "/v1/exercicios?limit=100",
        );
        expect(there.status).toBe(200);
        expect(there.body.data).toEqual([]);
      } finally {
        await other.close();
      }
    });

    it.skipIf(skip)("answers carry no SQL, stack or connection string", async () => {
      const cat = categoria();
      const nome = `Vazamento ${cat}`;
      await add(admin, cat, nome);
      const res = await api(admin, "POST", "/v1/exercicios", { nome, categoria: cat });
      expect(res.status).toBe(409);
      expectNoLeak(res.body, ["at ", nome]);
    });
  });
});
