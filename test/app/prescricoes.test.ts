/**
 * Prescricoes end to end (/v1/pacientes/{id}/exercicios, /v1/prescricoes/{id}): the worker in
 * workerd against the local Neon endpoint on both database backends and a real redis-server behind
 * the Upstash emulator (in-memory where none runs outside CI). Happy paths, errors, then security;
 * every call also checks the Neon HTTP round trips it cost (one per read and per simple write).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Auth } from "../../db/session";
import type { CallApi } from "../harness/api";
import { apiSuite, expectNoLeak } from "../harness/api-suite";
import { testBackends } from "../harness/backends";
import type { Json } from "../harness/http";

const backends = await testBackends();

describe.each(backends)("prescricoes on $name", ({ name, skip }) => {
  const suite = apiSuite(name, skip);
  const { api, as, admin, fx, freshPair } = suite;
  let agachamento: string;
  let ponte: string;
  const ids = (page: Json): string[] => page.body.data.map((p: { id: string }) => p.id);
  const dose = (extra: Record<string, unknown> = {}) => ({
    exercicio_id: agachamento,
    series: 3,
    repeticoes: 12,
    frequencia: "3x/semana",
    inicio: "2026-03-02",
    ...extra,
  });
  const prescribe = (auth: Auth, pacienteId: string, body: unknown, headers?: Record<string, string>) =>
    api(auth, "POST", `/v1/pacientes/${pacienteId}/exercicios`, body, headers);

  /** A paciente's prescricoes as the owner sees them (oldest first). */
  const stored = (pacienteId: string) =>
    suite.rows(
      `SELECT id, exercicio_id, fisioterapeuta_id, series, repeticoes, frequencia, observacoes,
              inicio::text, fim::text, ativa, updated_at::text AS version
         FROM prescricoes WHERE paciente_id = $1 ORDER BY created_at, id`,
      [pacienteId],
    );
  const exercicio = async (nome: string) => {
    const id = crypto.randomUUID();
    await suite.rows("INSERT INTO exercicios (id, nome, categoria) VALUES ($1, $2, 'fortalecimento')", [
      id,
      nome,
    ]);
    return id;
  };

  // After the suite's own beforeAll (hooks run in the order they are registered): the cloud is up.
  beforeAll(async () => {
    if (skip) return;
    agachamento = await exercicio(`Agachamento ${crypto.randomUUID()}`);
    ponte = await exercicio(`Ponte de glúteo ${crypto.randomUUID()}`);
  });

  describe("happy paths", () => {
    it.skipIf(skip)(
      "the paciente's fisioterapeuta prescribes: 201, Location, ETag, the exercicio's nome",
      async () => {
        const res = await prescribe(
          as("fisioA"),
          fx.pacA,
          dose({ fim: "2026-04-30", observacoes: " Sem carga " }),
        );
        expect(res.status).toBe(201);
        expect(res.roundTrips).toBe(1);
        expect(res.body).toMatchObject({
          paciente_id: fx.pacA,
          exercicio_id: agachamento,
          exercicio_nome: expect.stringMatching(/^Agachamento /),
          fisioterapeuta_id: fx.fisioA,
          series: 3,
          repeticoes: 12,
          frequencia: "3x/semana",
          observacoes: "Sem carga",
          inicio: "2026-03-02",
          fim: "2026-04-30",
          ativa: true,
        });
        expect(res.headers.get("location")).toBe(`/v1/prescricoes/${res.body.id}`);
        expect(res.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]+"$/);

        const got = await api(as("fisioA"), "GET", `/v1/prescricoes/${res.body.id}`);
        expect(got.status).toBe(200);
        expect(got.roundTrips).toBe(1);
        expect(got.body).toEqual(res.body);
        expect(got.headers.get("etag")).toBe(res.headers.get("etag"));
        const notModified = await api(as("fisioA"), "GET", `/v1/prescricoes/${res.body.id}`, undefined, {
          "if-none-match": res.headers.get("etag")!,
        });
        expect(notModified.status).toBe(304);
      },
    );

    it.skipIf(skip)("an admin prescribes in the name of the paciente's fisioterapeuta", async () => {
      const res = await prescribe(admin, fx.pacB, dose({ exercicio_id: ponte }));
      expect(res.status).toBe(201);
      expect(res.body.fisioterapeuta_id).toBe(fx.fisioB);
      expect(res.body.exercicio_id).toBe(ponte);
    });

    it.skipIf(skip)(
      "lists a paciente's prescricoes newest first in cursor pages; ?ativa filters",
      async () => {
        const { fisio, paciente } = await freshPair();
        const created: string[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await prescribe(
            fisio,
            paciente,
            dose({ series: i + 1, exercicio_id: i % 2 ? ponte : agachamento }),
          );
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
            `/v1/pacientes/${paciente}/exercicios?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
          );
          expect(page.status).toBe(200);
          expect(page.roundTrips).toBe(1);
          expect(page.body.data.every((p: { exercicio_nome: string }) => p.exercicio_nome.length > 0)).toBe(
            true,
          );
          seen.push(...ids(page));
          cursor = page.body.next_cursor;
          pages++;
        } while (cursor && pages < 10);
        expect(pages).toBe(3);
        expect(seen).toEqual([...created].reverse());

        const off = await api(fisio, "PATCH", `/v1/prescricoes/${created[1]}`, { ativa: false });
        expect(off.status).toBe(200);
        const active = await api(fisio, "GET", `/v1/pacientes/${paciente}/exercicios?ativa=true`);
        expect(ids(active)).toEqual([...created].reverse().filter((id) => id !== created[1]));
        const inactive = await api(fisio, "GET", `/v1/pacientes/${paciente}/exercicios?ativa=false`);
        expect(ids(inactive)).toEqual([created[1]]);
      },
    );

    it.skipIf(skip)(
      "PATCH with the current ETag updates; a stale one answers 412 and writes nothing",
      async () => {
        const created = await prescribe(
          as("fisioA"),
          fx.pacA,
          dose({ fim: "2026-06-30", observacoes: "Leve" }),
        );
        const etag = created.headers.get("etag")!;
        const first = await api(
          as("fisioA"),
          "PATCH",
          `/v1/prescricoes/${created.body.id}`,
          { repeticoes: 15, fim: null, observacoes: null },
          { "if-match": etag },
        );
        expect(first.status).toBe(200);
        expect(first.roundTrips).toBe(1);
        expect(first.body).toMatchObject({ repeticoes: 15, fim: null, observacoes: null, series: 3 });
        expect(first.headers.get("etag")).not.toBe(etag);
        const got = await api(as("fisioA"), "GET", `/v1/prescricoes/${created.body.id}`);
        expect(got.headers.get("etag")).toBe(first.headers.get("etag"));

        const before = (await stored(fx.pacA)).find((r) => r.id === created.body.id);
        const stale = await api(
          as("fisioA"),
          "PATCH",
          `/v1/prescricoes/${created.body.id}`,
          { series: 9 },
          { "if-match": etag },
        );
        expect(stale.status).toBe(412);
        expect(stale.body.error.code).toBe("precondition_failed");
        expect(stale.roundTrips).toBe(1);
        expect((await stored(fx.pacA)).find((r) => r.id === created.body.id)).toEqual(before);
        // An admin may change it too, and without If-Match the write is unconditional.
        const byAdmin = await api(admin, "PATCH", `/v1/prescricoes/${created.body.id}`, { ativa: false });
        expect(byAdmin.status).toBe(200);
        expect(byAdmin.body.ativa).toBe(false);
      },
    );

    it.skipIf(skip)(
      "a repeated POST with one Idempotency-Key prescribes once and replays the answer",
      async () => {
        const { fisio, paciente } = await freshPair();
        const key = `idem-${crypto.randomUUID()}`;
        const first = await prescribe(fisio, paciente, dose(), { "idempotency-key": key });
        const again = await prescribe(fisio, paciente, dose(), { "idempotency-key": key });
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
      const { fisio, paciente } = await freshPair();
      const cases: [unknown, string][] = [
        [dose({ exercicio_id: "42" }), "exercicio_id"],
        [dose({ series: 0 }), "series"],
        [dose({ series: 51 }), "series"],
        [dose({ series: 2.5 }), "series"],
        [dose({ repeticoes: 501 }), "repeticoes"],
        [dose({ repeticoes: "12" }), "repeticoes"],
        [dose({ frequencia: " " }), "frequencia"],
        [dose({ frequencia: "a\u0000b" }), "frequencia"],
        [dose({ observacoes: "x".repeat(2001) }), "observacoes"],
        [dose({ inicio: "2026-02-30" }), "inicio"],
        [dose({ inicio: "0000-01-01" }), "inicio"],
        [dose({ inicio: undefined }), "inicio"],
        [dose({ fim: "2026-03-01" }), "fim"],
        [dose({ paciente_id: fx.pacB }), ""],
        [dose({ fisioterapeuta_id: fx.fisioB }), ""],
      ];
      for (const [body, field] of cases) {
        const res = await prescribe(fisio, paciente, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe("bad_request");
        expect(res.roundTrips).toBe(0);
        if (field) expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
      }
      expect((await prescribe(fisio, paciente, "{not json")).status).toBe(400);
      expect(await stored(paciente)).toEqual([]);
    });

    it.skipIf(skip)("an unknown exercicio answers 422 and writes nothing", async () => {
      const { fisio, paciente } = await freshPair();
      const res = await prescribe(fisio, paciente, dose({ exercicio_id: crypto.randomUUID() }));
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe("unprocessable_entity");
      expect(res.roundTrips).toBe(1);
      expect(JSON.stringify(res.body)).not.toMatch(/prescricoes_|Key \(|constraint/);
      expect(await stored(paciente)).toEqual([]);
    });

    it.skipIf(skip)(
      "bad PATCH bodies answer 400 (422 for a rule across fields) and change nothing",
      async () => {
        const { fisio, paciente } = await freshPair();
        const created = await prescribe(fisio, paciente, dose());
        const before = await stored(paciente);
        const patch = (body: unknown, headers?: Record<string, string>) =>
          api(fisio, "PATCH", `/v1/prescricoes/${created.body.id}`, body, headers);
        for (const body of [
          {},
          { series: 0 },
          { exercicio_id: ponte },
          { paciente_id: fx.pacA },
          { ativa: "sim" },
          { inicio: "2026-05-01", fim: "2026-04-01" },
        ]) {
          const res = await patch(body);
          expect(res.status, JSON.stringify(body)).toBe(400);
          expect(res.roundTrips).toBe(0);
        }
        // fim before the stored inicio: only the database can tell; each value is fine alone, the
        // pair breaks the record's rule: 422.
        const dbCheck = await patch({ fim: "2026-01-01" });
        expect(dbCheck.status).toBe(422);
        expect(dbCheck.roundTrips).toBe(1);
        expect(JSON.stringify(dbCheck.body)).not.toMatch(/prescricoes_|check|constraint/);
        expect((await patch({ series: 4 }, { "if-match": "W/garbage, other" })).status).toBe(412);
        expect(await stored(paciente)).toEqual(before);
      },
    );

    it.skipIf(skip)("bad ids, cursors and queries answer 400", async () => {
      for (const path of [
        "/v1/pacientes/not-a-uuid/exercicios",
        `/v1/pacientes/${fx.pacA}/exercicios?cursor=garbage`,
        `/v1/pacientes/${fx.pacA}/exercicios?limit=0`,
        `/v1/pacientes/${fx.pacA}/exercicios?limit=101`,
        `/v1/pacientes/${fx.pacA}/exercicios?ativa=sim`,
        "/v1/prescricoes/not-a-uuid",
      ]) {
        const res = await api(as("fisioA"), "GET", path);
        expect(res.status, path).toBe(400);
      }
    });

    it.skipIf(skip)("unknown ids answer 404 in one round trip; no token answers 401", async () => {
      for (const [method, path, body] of [
        ["GET", `/v1/prescricoes/${crypto.randomUUID()}`, undefined],
        ["PATCH", `/v1/prescricoes/${crypto.randomUUID()}`, { series: 2 }],
        ["GET", `/v1/pacientes/${crypto.randomUUID()}/exercicios`, undefined],
        ["POST", `/v1/pacientes/${crypto.randomUUID()}/exercicios`, dose()],
      ] as const) {
        const res = await api(as("fisioA"), method, path, body);
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.roundTrips, `${method} ${path}`).toBe(1);
      }
      expect((await api(null, "GET", `/v1/pacientes/${fx.pacA}/exercicios`)).status).toBe(401);
    });
  });

  describe("security", () => {
    it.skipIf(skip)(
      "fisioterapeuta B cannot read, list, prescribe for or change A's paciente's prescricoes",
      async () => {
        const aRx = await prescribe(as("fisioA"), fx.pacA, dose());
        expect(aRx.status).toBe(201);
        const before = await stored(fx.pacA);
        const b = as("fisioB");
        expect((await api(b, "GET", `/v1/prescricoes/${aRx.body.id}`)).status).toBe(404);
        expect((await api(b, "GET", `/v1/pacientes/${fx.pacA}/exercicios`)).status).toBe(404);
        const intrude = await prescribe(b, fx.pacA, dose());
        expect(intrude.status).toBe(404);
        expect(intrude.roundTrips).toBe(1);
        const change = await api(b, "PATCH", `/v1/prescricoes/${aRx.body.id}`, { ativa: false });
        expect(change.status).toBe(404);
        const blind = await api(
          b,
          "PATCH",
          `/v1/prescricoes/${aRx.body.id}`,
          { series: 9 },
          {
            "if-match": aRx.headers.get("etag")!,
          },
        );
        expect(blind.status).toBe(404);
        const own = await api(b, "GET", `/v1/pacientes/${fx.pacB}/exercicios?limit=100`);
        expect(own.status).toBe(200);
        expect(ids(own)).not.toContain(aRx.body.id);
        expect(await stored(fx.pacA)).toEqual(before);
      },
    );

    it.skipIf(skip)("a paciente reads only own prescricoes and changes nothing", async () => {
      const mine = await prescribe(as("fisioA"), fx.pacA, dose());
      const theirs = await prescribe(as("fisioB"), fx.pacB, dose());
      const p = as("pacA");
      const own = await api(p, "GET", `/v1/prescricoes/${mine.body.id}`);
      expect(own.status).toBe(200);
      expect(own.roundTrips).toBe(1);
      const list = await api(p, "GET", `/v1/pacientes/${fx.pacA}/exercicios?limit=100`);
      expect(list.status).toBe(200);
      expect(ids(list)).toContain(mine.body.id);
      expect(list.body.data.every((r: { paciente_id: string }) => r.paciente_id === fx.pacA)).toBe(true);
      expect((await api(p, "GET", `/v1/prescricoes/${theirs.body.id}`)).status).toBe(404);
      expect((await api(p, "GET", `/v1/pacientes/${fx.pacB}/exercicios`)).status).toBe(404);

      const beforeA = await stored(fx.pacA);
      const prescribed = await prescribe(p, fx.pacA, dose());
      expect(prescribed.status).toBe(403);
      expect(prescribed.roundTrips).toBe(0);
      const change = await api(
        p,
        "PATCH",
        `/v1/prescricoes/${mine.body.id}`,
        { series: 1 },
        {
          "if-match": mine.headers.get("etag")!,
        },
      );
      expect(change.status).toBe(403);
      expect(await stored(fx.pacA)).toEqual(beforeA);
    });

    it.skipIf(skip)("answers carry no SQL, stack or connection string", async () => {
      const res = await prescribe(as("fisioA"), fx.pacA, dose({ exercicio_id: crypto.randomUUID() }));
      expect(res.status).toBe(422);
      expectNoLeak(res.body, ["at ", "exercicios"]);
    });
  });
});
