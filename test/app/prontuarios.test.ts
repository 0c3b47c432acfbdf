/**
 * /v1/prontuarios end to end: the worker in workerd against the local Neon endpoint on both
 * database backends and a real redis-server behind the Upstash emulator (in-memory where none
 * runs outside CI). Append-only records, versions numbered by the database, and every read
 * audited in the same round trip: each call checks the Neon HTTP round trips it cost, and the
 * audit log is read back as the owner.
 */
import { describe, expect, it } from "vitest";
import type { Auth } from "../../db/session";
import type { CallApi } from "../harness/api";
import { apiSuite, expectNoLeak } from "../harness/api-suite";
import { testBackends } from "../harness/backends";
import type { Json } from "../harness/http";

const backends = await testBackends();

interface AuditRow {
  actor_id: string | null;
  actor_role: string | null;
  tabela: string;
  row_id: string;
  operacao: string;
  colunas: string[] | null;
}

describe.each(backends)("/v1/prontuarios on $name", ({ name, skip }) => {
  const suite = apiSuite(name, skip);
  const { api, as, admin, fx, freshPair } = suite;
  const ids = (page: Json): string[] => page.body.data.map((p: { id: string }) => p.id);

  /** Every prontuario of a paciente, as the owner sees them (oldest first). */
  const stored = (pacienteId: string) =>
    suite.rows(
      `SELECT id, versao, corrige_id, consulta_id, conteudo, fisioterapeuta_id FROM prontuarios
        WHERE paciente_id = $1 ORDER BY created_at, id`,
      [pacienteId],
    );
  const allProntuarios = () => suite.count("SELECT count(*)::int AS n FROM prontuarios");
  /** READ rows in audit.log for these prontuarios (owner's view). */
  const reads = (rowIds: string[]): Promise<AuditRow[]> =>
    suite.rows(
      `SELECT actor_id, actor_role, tabela, row_id, operacao, colunas FROM audit.log
        WHERE tabela = 'prontuarios' AND operacao = 'READ' AND row_id = ANY($1::uuid[]) ORDER BY id`,
      [rowIds],
    );
  const readsBy = (actorId: string) =>
    suite.count("SELECT count(*)::int AS n FROM audit.log WHERE tabela = 'prontuarios' AND actor_id = $1", [
      actorId,
    ]);
  let slot = 0;
  /** A consulta (owner-inserted), each at its own hour so none overlap. */
  const consulta = async (pacienteId: string, fisioId: string) => {
    const id = crypto.randomUUID();
    slot++;
    await suite.cloud.system((c) =>
      c.query(
        `INSERT INTO consultas (id, paciente_id, fisioterapeuta_id, data_consulta)
         VALUES ($1, $2, $3, date_trunc('hour', now()) + make_interval(hours => $4))`,
        [id, pacienteId, fisioId, slot],
      ),
    );
    return id;
  };
  const write = (auth: Auth, body: Record<string, unknown>) => api(auth, "POST", "/v1/prontuarios", body);

  describe("happy paths", () => {
    it.skipIf(skip)(
      "the paciente's fisioterapeuta writes: 201, Location, ETag, version 1 in their own name",
      async () => {
        const consultaId = await consulta(fx.pacA, fx.fisioA);
        const res = await write(as("fisioA"), {
          paciente_id: fx.pacA,
          consulta_id: consultaId,
          conteudo: "  Dor lombar, melhora com alongamento.  ",
        });
        expect(res.status).toBe(201);
        expect(res.roundTrips).toBe(1);
        expect(res.body).toMatchObject({
          paciente_id: fx.pacA,
          fisioterapeuta_id: fx.fisioA,
          consulta_id: consultaId,
          versao: 1,
          corrige_id: null,
          corrigido_por_id: null,
          conteudo: "Dor lombar, melhora com alongamento.",
        });
        expect(res.headers.get("location")).toBe(`/v1/prontuarios/${res.body.id}`);
        expect(res.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]+"$/);

        const got = await api(as("fisioA"), "GET", `/v1/prontuarios/${res.body.id}`);
        expect(got.status).toBe(200);
        expect(got.roundTrips).toBe(1);
        expect(got.body).toEqual(res.body);
        expect(got.headers.get("etag")).toBe(res.headers.get("etag"));
        const notModified = await api(as("fisioA"), "GET", `/v1/prontuarios/${res.body.id}`, undefined, {
          "if-none-match": res.headers.get("etag")!,
        });
        expect(notModified.status).toBe(304);
        expect(notModified.roundTrips).toBe(1);
      },
    );

    it.skipIf(skip)(
      "a correction is a new version the database numbers; the corrected one stays and names it",
      async () => {
        const { fisio, paciente } = await freshPair();
        const consultaId = await consulta(paciente, fisio.userId);
        const v1 = await write(fisio, {
          paciente_id: paciente,
          consulta_id: consultaId,
          conteudo: "Versão 1",
        });
        const v1Etag = v1.headers.get("etag");
        const v2 = await write(fisio, {
          paciente_id: paciente,
          corrige_id: v1.body.id,
          conteudo: "Versão 2",
        });
        expect(v2.status).toBe(201);
        expect(v2.roundTrips).toBe(1);
        // No consulta_id given: the correction keeps the corrected record's.
        expect(v2.body).toMatchObject({ versao: 2, corrige_id: v1.body.id, consulta_id: consultaId });
        const v3 = await write(fisio, {
          paciente_id: paciente,
          corrige_id: v2.body.id,
          conteudo: "Versão 3",
        });
        expect(v3.body).toMatchObject({ versao: 3, corrige_id: v2.body.id });
        const other = await write(fisio, { paciente_id: paciente, conteudo: "Outro registro" });
        expect(other.body.versao).toBe(1);

        const old = await api(fisio, "GET", `/v1/prontuarios/${v1.body.id}`);
        expect(old.body).toMatchObject({ conteudo: "Versão 1", versao: 1, corrigido_por_id: v2.body.id });
        // Its answer changed (it names its correction), so its ETag did too.
        expect(old.headers.get("etag")).not.toBe(v1Etag);
        expect(
          (await api(fisio, "GET", `/v1/prontuarios/${v1.body.id}`, undefined, { "if-none-match": v1Etag! }))
            .status,
        ).toBe(200);

        const latest = await api(fisio, "GET", `/v1/prontuarios?paciente_id=${paciente}`);
        expect(latest.status).toBe(200);
        expect(latest.roundTrips).toBe(1);
        expect(ids(latest)).toEqual([other.body.id, v3.body.id]);
        const all = await api(fisio, "GET", `/v1/prontuarios?paciente_id=${paciente}&versions=all`);
        expect(all.roundTrips).toBe(1);
        expect(ids(all)).toEqual([other.body.id, v3.body.id, v2.body.id, v1.body.id]);
        expect((await stored(paciente)).map((r) => r.conteudo)).toEqual([
          "Versão 1",
          "Versão 2",
          "Versão 3",
          "Outro registro",
        ]);
      },
    );

    it.skipIf(skip)(
      "lists newest first in cursor pages that cover every row once, each read audited once",
      async () => {
        const { fisio, paciente } = await freshPair();
        const created: string[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await write(fisio, { paciente_id: paciente, conteudo: `Sessão ${i}` });
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
            `/v1/prontuarios?paciente_id=${paciente}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
          );
          expect(page.status).toBe(200);
          expect(page.roundTrips).toBe(1);
          seen.push(...ids(page));
          cursor = page.body.next_cursor;
          pages++;
        } while (cursor && pages < 10);
        expect(pages).toBe(3);
        expect(seen).toEqual([...created].reverse());
        // The row fetched only to know a next page exists was not shown, so it was not "read".
        const logged = await reads(created);
        expect(logged.map((r) => r.row_id).sort()).toEqual([...created].sort());
      },
    );

    it.skipIf(skip)("every read leaves READ rows with the caller as actor and no clinical text", async () => {
      const secret = `Segredo clínico ${crypto.randomUUID()}`;
      const a = await write(as("fisioA"), { paciente_id: fx.pacA, conteudo: secret });
      const b = await write(as("fisioA"), { paciente_id: fx.pacA, conteudo: `${secret} (2)` });
      expect(await reads([a.body.id, b.body.id])).toEqual([]);

      const readers: [Auth, string][] = [
        [as("fisioA"), "fisioterapeuta"],
        [as("pacA"), "paciente"],
      ];
      for (const [who, role] of readers) {
        const one = await api(who, "GET", `/v1/prontuarios/${a.body.id}`);
        expect(one.status, role).toBe(200);
        expect(one.roundTrips, role).toBe(1);
        expect(await reads([a.body.id]), role).toContainEqual({
          actor_id: who.userId,
          actor_role: role,
          tabela: "prontuarios",
          row_id: a.body.id,
          operacao: "READ",
          colunas: null,
        });
        const before = (await reads([a.body.id, b.body.id])).length;
        const list = await api(who, "GET", `/v1/prontuarios?paciente_id=${fx.pacA}&limit=100`);
        expect(list.status, role).toBe(200);
        expect(list.roundTrips, role).toBe(1);
        expect(ids(list), role).toEqual(expect.arrayContaining([a.body.id, b.body.id]));
        const after = await reads(list.body.data.map((p: { id: string }) => p.id));
        const byThisList = after.slice(-list.body.data.length);
        expect(
          byThisList.every((r) => r.actor_id === who.userId && r.actor_role === role),
          role,
        ).toBe(true);
        expect((await reads([a.body.id, b.body.id])).length, role).toBe(before + 2);
      }
      // A 304 still read the record: it is audited too.
      const first = await api(as("pacA"), "GET", `/v1/prontuarios/${b.body.id}`);
      const n = (await reads([b.body.id])).length;
      const cached = await api(as("pacA"), "GET", `/v1/prontuarios/${b.body.id}`, undefined, {
        "if-none-match": first.headers.get("etag")!,
      });
      expect(cached.status).toBe(304);
      expect((await reads([b.body.id])).length).toBe(n + 1);

      const everyAuditRow = await suite.cloud.system((c) =>
        c.query("SELECT to_jsonb(l)::text AS t FROM audit.log l WHERE row_id = ANY($1::uuid[])", [
          [a.body.id, b.body.id],
        ]),
      );
      expect(everyAuditRow.rows.length).toBeGreaterThan(0);
      for (const r of everyAuditRow.rows) expect(r.t).not.toContain("Segredo");
    });

    it.skipIf(skip)(
      "a repeated POST with one Idempotency-Key writes once and replays the answer",
      async () => {
        const { fisio, paciente } = await freshPair();
        const key = `idem-${crypto.randomUUID()}`;
        const body = { paciente_id: paciente, conteudo: "Uma vez só" };
        const first = await api(fisio, "POST", "/v1/prontuarios", body, { "idempotency-key": key });
        const again = await api(fisio, "POST", "/v1/prontuarios", body, { "idempotency-key": key });
        expect(first.status).toBe(201);
        expect(again.status).toBe(201);
        expect(again.body).toEqual(first.body);
        expect(again.headers.get("idempotent-replayed")).toBe("true");
        expect(again.roundTrips).toBe(0);
        expect(await stored(paciente)).toHaveLength(1);
      },
    );
  });

  describe("errors", () => {
    it.skipIf(skip)("bad input answers 400 with the fields at fault, and writes nothing", async () => {
      const before = await allProntuarios();
      const ok = { paciente_id: fx.pacA, conteudo: "Texto" };
      const cases: [unknown, string][] = [
        [{ conteudo: "Texto" }, "paciente_id"],
        [{ ...ok, paciente_id: "42" }, "paciente_id"],
        [{ ...ok, conteudo: "" }, "conteudo"],
        [{ ...ok, conteudo: "   " }, "conteudo"],
        [{ ...ok, conteudo: "nul \u0000 byte" }, "conteudo"],
        [{ ...ok, conteudo: "x".repeat(50_001) }, "conteudo"],
        [{ ...ok, conteudo: 42 }, "conteudo"],
        [{ ...ok, consulta_id: "nope" }, "consulta_id"],
        [{ ...ok, corrige_id: "nope" }, "corrige_id"],
        [{ ...ok, versao: 7 }, ""],
        [{ ...ok, fisioterapeuta_id: fx.fisioB }, ""],
      ];
      for (const [body, field] of cases) {
        const res = await write(as("fisioA"), body as Record<string, unknown>);
        expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
        expect(res.body.error.code).toBe("bad_request");
        expect(res.roundTrips).toBe(0);
        if (field) expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
      }
      expect((await api(as("fisioA"), "POST", "/v1/prontuarios", "{not json")).status).toBe(400);
      expect(await allProntuarios()).toBe(before);
    });

    it.skipIf(skip)("bad ids, queries and cursors answer 400", async () => {
      for (const path of [
        "/v1/prontuarios",
        "/v1/prontuarios?paciente_id=42",
        `/v1/prontuarios?paciente_id=${fx.pacA}&versions=some`,
        `/v1/prontuarios?paciente_id=${fx.pacA}&limit=0`,
        `/v1/prontuarios?paciente_id=${fx.pacA}&limit=101`,
        `/v1/prontuarios?paciente_id=${fx.pacA}&cursor=garbage`,
        "/v1/prontuarios/not-a-uuid",
      ]) {
        const res = await api(as("fisioA"), "GET", path);
        expect(res.status, path).toBe(400);
        expect(res.roundTrips, path).toBe(0);
      }
    });

    it.skipIf(skip)(
      "a consulta or corrected record that is not this paciente's answers 422 and writes nothing",
      async () => {
        const { fisio, paciente } = await freshPair();
        const own = await write(fisio, { paciente_id: paciente, conteudo: "Meu" });
        const otherPaciente = crypto.randomUUID();
        await suite.cloud.system((c) =>
          c.query("INSERT INTO pacientes (id, nome, fisioterapeuta_id) VALUES ($1, 'Irmão', $2)", [
            otherPaciente,
            fisio.userId,
          ]),
        );
        const otherConsulta = await consulta(otherPaciente, fisio.userId);
        const otherRecord = await write(fisio, { paciente_id: otherPaciente, conteudo: "Do irmão" });
        const before = await stored(paciente);
        const cases: [Record<string, unknown>, string][] = [
          [{ consulta_id: otherConsulta }, "consulta_id"],
          [{ consulta_id: crypto.randomUUID() }, "consulta_id"],
          [{ corrige_id: otherRecord.body.id }, "corrige_id"],
          [{ corrige_id: crypto.randomUUID() }, "corrige_id"],
        ];
        for (const [extra, field] of cases) {
          const res = await write(fisio, { paciente_id: paciente, conteudo: "Errado", ...extra });
          expect(res.status, field).toBe(422);
          expect(res.body.error.code).toBe("unprocessable_entity");
          expect(res.body.error.details[0].path).toBe(field);
          expect(res.roundTrips).toBe(1);
        }
        expect(await stored(paciente)).toEqual(before);
        expect(own.status).toBe(201);
      },
    );

    it.skipIf(skip)(
      "correcting a version that was already corrected answers 409 and writes nothing",
      async () => {
        const { fisio, paciente } = await freshPair();
        const v1 = await write(fisio, { paciente_id: paciente, conteudo: "Primeira" });
        await write(fisio, { paciente_id: paciente, corrige_id: v1.body.id, conteudo: "Segunda" });
        const before = await stored(paciente);
        const res = await write(fisio, {
          paciente_id: paciente,
          corrige_id: v1.body.id,
          conteudo: "Paralela",
        });
        expect(res.status).toBe(409);
        expect(res.body.error.code).toBe("conflict");
        expect(JSON.stringify(res.body)).not.toMatch(/prontuarios_|Key \(|constraint|Paralela/);
        expect(await stored(paciente)).toEqual(before);
      },
    );

    it.skipIf(skip)("unknown ids answer 404 in one round trip; there is no PATCH or DELETE", async () => {
      const missing = await api(as("fisioA"), "GET", `/v1/prontuarios/${crypto.randomUUID()}`);
      expect(missing.status).toBe(404);
      expect(missing.roundTrips).toBe(1);
      const noPaciente = await api(as("fisioA"), "GET", `/v1/prontuarios?paciente_id=${crypto.randomUUID()}`);
      expect(noPaciente.status).toBe(404);
      expect(noPaciente.roundTrips).toBe(1);
      const write404 = await write(as("fisioA"), { paciente_id: crypto.randomUUID(), conteudo: "Ninguém" });
      expect(write404.status).toBe(422);

      const { fisio, paciente } = await freshPair();
      const rec = await write(fisio, { paciente_id: paciente, conteudo: "Imutável" });
      const before = await stored(paciente);
      for (const method of ["PATCH", "PUT", "DELETE"]) {
        const res = await api(fisio, method, `/v1/prontuarios/${rec.body.id}`, { conteudo: "Mudado" });
        expect(res.status, method).toBe(404);
        expect(res.roundTrips, method).toBe(0);
      }
      expect(await stored(paciente)).toEqual(before);
      expect((await api(null, "GET", `/v1/prontuarios/${rec.body.id}`)).status).toBe(401);
    });
  });

  describe("security", () => {
    it.skipIf(skip)(
      "fisioterapeuta B cannot read, list, write or correct A's paciente's prontuarios; nothing changes",
      async () => {
        const aRecord = await write(as("fisioA"), { paciente_id: fx.pacA, conteudo: "Só de A" });
        expect(aRecord.status).toBe(201);
        const bOwn = await write(as("fisioB"), { paciente_id: fx.pacB, conteudo: "De B" });
        expect(bOwn.status).toBe(201);
        const aConsulta = await consulta(fx.pacA, fx.fisioA);
        const beforeA = await stored(fx.pacA);
        const beforeB = await stored(fx.pacB);
        const readsBefore = await readsBy(fx.fisioB);
        const b = as("fisioB");

        expect((await api(b, "GET", `/v1/prontuarios/${aRecord.body.id}`)).status).toBe(404);
        expect((await api(b, "GET", `/v1/prontuarios?paciente_id=${fx.pacA}`)).status).toBe(404);
        expect((await api(b, "GET", `/v1/prontuarios?paciente_id=${fx.pacA}&versions=all`)).status).toBe(404);
        const intrude = await write(b, { paciente_id: fx.pacA, conteudo: "Intruso" });
        expect(intrude.status).toBe(422);
        expect(intrude.roundTrips).toBe(1);
        expect(
          (await write(b, { paciente_id: fx.pacA, corrige_id: aRecord.body.id, conteudo: "Intruso" })).status,
        ).toBe(422);
        // Through B's own paciente, A's record and consulta are still out of reach.
        expect(
          (await write(b, { paciente_id: fx.pacB, corrige_id: aRecord.body.id, conteudo: "Intruso" })).status,
        ).toBe(422);
        expect(
          (await write(b, { paciente_id: fx.pacB, consulta_id: aConsulta, conteudo: "Intruso" })).status,
        ).toBe(422);
        // B's own list is B's paciente's only.
        const own = await api(b, "GET", `/v1/prontuarios?paciente_id=${fx.pacB}&limit=100`);
        expect(ids(own)).toContain(bOwn.body.id);
        expect(ids(own)).not.toContain(aRecord.body.id);

        expect(await stored(fx.pacA)).toEqual(beforeA);
        expect(await stored(fx.pacB)).toEqual(beforeB);
        // B's failed reads logged nothing: the audit function only ever got rows B could see.
        expect(await readsBy(fx.fisioB)).toBe(readsBefore + own.body.data.length);
        expect((await reads([aRecord.body.id])).filter((r) => r.actor_id === fx.fisioB)).toEqual([]);
      },
    );

    it.skipIf(skip)("a paciente reads only own prontuarios and writes nothing", async () => {
      const mine = await write(as("fisioA"), { paciente_id: fx.pacA, conteudo: "Da Carla" });
      const theirs = await write(as("fisioB"), { paciente_id: fx.pacB, conteudo: "Do Davi" });
      const p = as("pacA");
      const own = await api(p, "GET", `/v1/prontuarios/${mine.body.id}`);
      expect(own.status).toBe(200);
      expect(own.body.conteudo).toBe("Da Carla");
      const list = await api(p, "GET", `/v1/prontuarios?paciente_id=${fx.pacA}&limit=100`);
      expect(list.status).toBe(200);
      expect(list.body.data.every((r: { paciente_id: string }) => r.paciente_id === fx.pacA)).toBe(true);
      expect((await api(p, "GET", `/v1/prontuarios/${theirs.body.id}`)).status).toBe(404);
      expect((await api(p, "GET", `/v1/prontuarios?paciente_id=${fx.pacB}`)).status).toBe(404);
      expect((await reads([theirs.body.id])).filter((r) => r.actor_id === fx.pacA)).toEqual([]);

      const before = await allProntuarios();
      for (const body of [
        { paciente_id: fx.pacA, conteudo: "Eu mesma escrevo" },
        { paciente_id: fx.pacA, corrige_id: mine.body.id, conteudo: "Eu corrijo" },
      ]) {
        const res = await write(p, body);
        expect(res.status).toBe(403);
        expect(res.roundTrips).toBe(0);
      }
      expect(await allProntuarios()).toBe(before);
    });

    it.skipIf(skip)("an admin neither reads clinical text (403, unaudited) nor writes it", async () => {
      const rec = await write(as("fisioB"), { paciente_id: fx.pacB, conteudo: "Para a auditoria" });
      expect((await api(admin, "GET", `/v1/prontuarios/${rec.body.id}`)).status).toBe(403);
      expect((await api(admin, "GET", `/v1/prontuarios?paciente_id=${fx.pacB}`)).status).toBe(403);
      expect(await reads([rec.body.id])).toEqual([]);
      const before = await allProntuarios();
      const res = await write(admin, { paciente_id: fx.pacB, conteudo: "Do admin" });
      expect(res.status).toBe(403);
      expect(await allProntuarios()).toBe(before);
    });

    it.skipIf(skip)("answers carry no SQL, stack, clinical text or connection string", async () => {
      const res = await write(as("fisioB"), {
        paciente_id: fx.pacA,
        conteudo: "Texto sigiloso",
        corrige_id: crypto.randomUUID(),
      });
      expect(res.status).toBe(422);
      expectNoLeak(res.body, ["at ", "sigiloso"]);
    });
  });
});
