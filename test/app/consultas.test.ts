/**
 * /v1/consultas end to end: the worker in workerd against the local Neon endpoint on both
 * database backends and a real redis-server behind the Upstash emulator. Happy paths, errors,
 * then security; every call also checks the Neon HTTP round trips it cost (one per read and per
 * simple write). The database decides double bookings (23P01 → 409 slot_taken), RLS decides
 * visibility, and the list's date range is what lets the planner read only the months in it.
 */
import { neon } from "@neondatabase/serverless";
import { describe, expect, it } from "vitest";
import { CONSULTA_TRANSITIONS, consultaStatus, listConsultas } from "../../db/queries/consultas";
import { type Auth, withAuth } from "../../db/session";
import { configureNeonForLocal } from "../../dev/neon/client";
import type { CallApi } from "../harness/api";
import { apiSuite, expectNoLeak } from "../harness/api-suite";
import { testBackends } from "../harness/backends";
import { TEST_SIGNER } from "../harness/db";

const backends = await testBackends();

const HOUR = 3600_000;
/** 00:00 UTC of the first day of the month `offset` months from now. */
const monthStart = (offset: number) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
};
/** The partition that holds a UTC month (db/partitions.ts naming). */
const partitionOf = (d: Date) =>
  `consultas_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
const iso = (ms: number) => new Date(ms).toISOString();

describe.each(backends)("/v1/consultas on $name", ({ name, skip }) => {
  const suite = apiSuite(name, skip);
  const { api, as, admin, fx, freshPair } = suite;

  // Each test books in slots of its own (the database lives for the whole file): next month,
  // two hours apart, so no test overlaps another's consultas by accident.
  let nextSlot = monthStart(1).getTime() + 8 * HOUR;
  const slot = () => {
    nextSlot += 2 * HOUR;
    return iso(nextSlot);
  };

  const row = (id: string) =>
    suite.first(
      `SELECT paciente_id, fisioterapeuta_id, data_consulta, duracao_min, status, observacoes,
              updated_at::text AS version, tableoid::regclass::text AS part
         FROM consultas WHERE id = $1`,
      [id],
    );
  const countFor = (pacienteId: string) =>
    suite.count("SELECT count(*)::int AS n FROM consultas WHERE paciente_id = $1", [pacienteId]);
  const setStatus = (id: string, status: string) =>
    suite.rows("UPDATE consultas SET status = $1 WHERE id = $2", [status, id]);
  const book = async (auth: Auth, paciente: string, data_consulta: string, duracao_min = 50) => {
    const res = await api(auth, "POST", "/v1/consultas", {
      paciente_id: paciente,
      data_consulta,
      duracao_min,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res;
  };

  describe("happy paths", () => {
    it.skipIf(skip)("duracao_min defaults to 50 minutes", async () => {
      const res = await api(as("fisioA"), "POST", "/v1/consultas", {
        paciente_id: fx.pacA,
        data_consulta: slot(),
      });
      expect([res.status, res.body.duracao_min]).toEqual([201, 50]);
    });

    it.skipIf(skip)(
      "a fisioterapeuta books for their paciente: 201, Location, ETag, the month's partition",
      async () => {
        const start = Date.parse(slot());
        // 14:00 at -03:00 is 17:00 UTC: the instant is kept, the offset is not.
        const local = `${iso(start - 3 * HOUR).slice(0, 19)}-03:00`;
        const res = await api(as("fisioA"), "POST", "/v1/consultas", {
          paciente_id: fx.pacA,
          data_consulta: local,
          duracao_min: 45,
          observacoes: "Avaliação inicial",
        });
        expect(res.status).toBe(201);
        expect(res.roundTrips).toBe(1);
        expect(res.body).toMatchObject({
          paciente_id: fx.pacA,
          fisioterapeuta_id: fx.fisioA,
          data_consulta: iso(start),
          duracao_min: 45,
          status: "agendada",
          observacoes: "Avaliação inicial",
        });
        expect(res.headers.get("location")).toBe(`/v1/consultas/${res.body.id}`);
        expect(res.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]+"$/);
        expect((await row(res.body.id)).part).toBe(partitionOf(monthStart(1)));

        const got = await api(as("fisioA"), "GET", `/v1/consultas/${res.body.id}`);
        expect(got.status).toBe(200);
        expect(got.roundTrips).toBe(1);
        expect(got.body).toEqual(res.body);
        expect(got.headers.get("etag")).toBe(res.headers.get("etag"));
        const notModified = await api(as("fisioA"), "GET", `/v1/consultas/${res.body.id}`, undefined, {
          "if-none-match": res.headers.get("etag")!,
        });
        expect(notModified.status).toBe(304);
        expect(notModified.roundTrips).toBe(1);
      },
    );

    it.skipIf(skip)("an admin books in a named fisioterapeuta's name", async () => {
      const res = await api(admin, "POST", "/v1/consultas", {
        paciente_id: fx.pacB,
        fisioterapeuta_id: fx.fisioB,
        data_consulta: slot(),
        duracao_min: 30,
      });
      expect(res.status).toBe(201);
      expect(res.roundTrips).toBe(1);
      expect(res.body.fisioterapeuta_id).toBe(fx.fisioB);
      expect((await row(res.body.id)).fisioterapeuta_id).toBe(fx.fisioB);
    });

    it.skipIf(skip)(
      "lists a range oldest first in cursor pages that cover every row once, with filters",
      async () => {
        const one = await freshPair();
        const two = await freshPair();
        // Month +3 holds this test's rows only; equal times (two fisioterapeutas) order by id.
        const base = monthStart(3).getTime();
        const times = [base + 10 * HOUR, base + 12 * HOUR, base + 12 * HOUR, base + 30 * HOUR];
        const ids: { id: string; at: number }[] = [];
        for (const [k, at] of times.entries()) {
          const clinic = k === 2 ? two : one;
          ids.push({ id: (await book(clinic.fisio, clinic.paciente, iso(at))).body.id, at });
        }
        const outside = (await book(one.fisio, one.paciente, iso(monthStart(4).getTime() + HOUR))).body.id;
        const expected = [...ids].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)).map((r) => r.id);

        const range = `from=${monthStart(3).toISOString().slice(0, 10)}&to=${encodeURIComponent(monthStart(4).toISOString())}`;
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<CallApi>> = await api(
            admin,
            "GET",
            `/v1/consultas?${range}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
          );
          expect(page.status, JSON.stringify(page.body)).toBe(200);
          expect(page.roundTrips).toBe(1);
          seen.push(...page.body.data.map((c: { id: string }) => c.id));
          cursor = page.body.next_cursor;
          pages++;
        } while (cursor && pages < 10);
        expect(pages).toBe(2);
        expect(seen).toEqual(expected);
        expect(seen).not.toContain(outside);

        const ofPaciente = await api(admin, "GET", `/v1/consultas?${range}&paciente_id=${two.paciente}`);
        expect(ofPaciente.body.data.map((c: { id: string }) => c.id)).toEqual([ids[2]!.id]);
        const ofFisio = await api(
          admin,
          "GET",
          `/v1/consultas?${range}&fisioterapeuta_id=${one.fisio.userId}&limit=100`,
        );
        expect(ofFisio.body.data.map((c: { id: string }) => c.id)).toEqual(
          expected.filter((id) => id !== ids[2]!.id),
        );
        // A fisioterapeuta's own view of the same range: their pacientes only.
        const own = await api(one.fisio, "GET", `/v1/consultas?${range}&limit=100`);
        expect(own.roundTrips).toBe(1);
        expect(own.body.data.map((c: { id: string }) => c.id)).toEqual(
          ofFisio.body.data.map((c: { id: string }) => c.id),
        );
        const cancelled = await api(admin, "GET", `/v1/consultas?${range}&status=cancelada`);
        expect(cancelled.body.data).toEqual([]);
      },
    );

    it.skipIf(skip)("without a range the list covers the 31 days from today (UTC)", async () => {
      const clinic = await freshPair();
      const today = new Date();
      const midnight = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
      const inside = (await book(clinic.fisio, clinic.paciente, iso(midnight + 30 * 24 * HOUR))).body.id;
      await book(clinic.fisio, clinic.paciente, iso(midnight + 32 * 24 * HOUR));
      await book(clinic.fisio, clinic.paciente, iso(midnight - HOUR));
      const res = await api(clinic.fisio, "GET", "/v1/consultas");
      expect(res.status).toBe(200);
      expect(res.body.data.map((c: { id: string }) => c.id)).toEqual([inside]);
      // Only `to`: the 31 days before it.
      const before = await api(clinic.fisio, "GET", `/v1/consultas?to=${encodeURIComponent(iso(midnight))}`);
      expect(before.body.data).toHaveLength(1);
    });

    it.skipIf(skip)(
      "PATCH walks agendada → confirmada → realizada with If-Match; a stale ETag answers 412",
      async () => {
        const created = await book(as("fisioA"), fx.pacA, slot());
        const id = created.body.id;
        const first = await api(
          as("fisioA"),
          "PATCH",
          `/v1/consultas/${id}`,
          { status: "confirmada" },
          { "if-match": created.headers.get("etag")! },
        );
        expect(first.status).toBe(200);
        expect(first.roundTrips).toBe(1);
        expect(first.body.status).toBe("confirmada");
        expect(first.headers.get("etag")).not.toBe(created.headers.get("etag"));
        // A second receptionist still holding the first ETag.
        const before = await row(id);
        const stale = await api(
          as("fisioA"),
          "PATCH",
          `/v1/consultas/${id}`,
          { status: "cancelada" },
          { "if-match": created.headers.get("etag")! },
        );
        expect(stale.status).toBe(412);
        expect(stale.roundTrips).toBe(1);
        expect(stale.body.error.code).toBe("precondition_failed");
        expect(await row(id)).toEqual(before);
        const done = await api(
          as("fisioA"),
          "PATCH",
          `/v1/consultas/${id}`,
          { status: "realizada", observacoes: "Evoluiu bem" },
          { "if-match": first.headers.get("etag")! },
        );
        expect(done.status).toBe(200);
        expect(done.body).toMatchObject({ status: "realizada", observacoes: "Evoluiu bem" });
        // Notes on a final consulta are still allowed; null clears them.
        const notes = await api(as("fisioA"), "PATCH", `/v1/consultas/${id}`, { observacoes: null });
        expect(notes.status).toBe(200);
        expect(notes.body.observacoes).toBeNull();
      },
    );

    it.skipIf(skip)(
      "moving re-checks the slot: into another month's partition, onto a taken time 409",
      async () => {
        const a = await book(as("fisioA"), fx.pacA, slot());
        const b = await book(as("fisioA"), fx.pacA, slot());
        const target = iso(monthStart(2).getTime() + 9 * HOUR);
        const moved = await api(as("fisioA"), "PATCH", `/v1/consultas/${a.body.id}`, {
          data_consulta: target,
          duracao_min: 60,
        });
        expect(moved.status).toBe(200);
        expect(moved.roundTrips).toBe(1);
        expect(moved.body).toMatchObject({ data_consulta: target, duracao_min: 60 });
        expect((await row(a.body.id)).part).toBe(partitionOf(monthStart(2)));
        // The old time is free again.
        await book(as("fisioA"), fx.pacA, a.body.data_consulta);

        const before = await row(b.body.id);
        const clash = await api(as("fisioA"), "PATCH", `/v1/consultas/${b.body.id}`, {
          data_consulta: iso(Date.parse(target) + 30 * 60_000),
        });
        expect(clash.status).toBe(409);
        expect(clash.roundTrips).toBe(1);
        expect(clash.body.error.code).toBe("slot_taken");
        expect(await row(b.body.id)).toEqual(before);
        const longer = await api(as("fisioA"), "PATCH", `/v1/consultas/${a.body.id}`, { duracao_min: 480 });
        expect(longer.status).toBe(200);
      },
    );

    it.skipIf(skip)("cancelling frees the slot for another booking", async () => {
      const at = slot();
      const first = await book(as("fisioA"), fx.pacA, at);
      const taken = await api(as("fisioA"), "POST", "/v1/consultas", {
        paciente_id: fx.pacA,
        data_consulta: at,
        duracao_min: 50,
      });
      expect(taken.status).toBe(409);
      expect(taken.body.error.code).toBe("slot_taken");
      expect(taken.roundTrips).toBe(1);
      const cancel = await api(as("fisioA"), "PATCH", `/v1/consultas/${first.body.id}`, {
        status: "cancelada",
      });
      expect(cancel.status).toBe(200);
      await book(as("fisioA"), fx.pacA, at);
    });

    it.skipIf(skip)(
      "a repeated POST with one Idempotency-Key books once and replays the answer",
      async () => {
        const clinic = await freshPair();
        const key = `idem-${crypto.randomUUID()}`;
        const body = { paciente_id: clinic.paciente, data_consulta: slot(), duracao_min: 50 };
        const first = await api(clinic.fisio, "POST", "/v1/consultas", body, { "idempotency-key": key });
        const again = await api(clinic.fisio, "POST", "/v1/consultas", body, { "idempotency-key": key });
        expect(first.status).toBe(201);
        expect(again.status).toBe(201);
        expect(again.body).toEqual(first.body);
        expect(again.headers.get("idempotent-replayed")).toBe("true");
        expect(again.roundTrips).toBe(0);
        expect(await countFor(clinic.paciente)).toBe(1);
      },
    );

    it.skipIf(skip)(
      "50 concurrent bookings of one slot over HTTP: exactly one 201, the rest 409 slot_taken",
      { timeout: 90_000 },
      async () => {
        const clinic = await freshPair();
        const start = Date.parse(slot());
        // Overlapping, not identical: each starts a minute after the previous one.
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, k) =>
            api(clinic.fisio, "POST", "/v1/consultas", {
              paciente_id: clinic.paciente,
              data_consulta: iso(start + k * 60_000),
              duracao_min: 60,
            }),
          ),
        );
        const statuses = results.map((r) => r.status);
        expect(statuses.filter((s) => s === 201)).toHaveLength(1);
        expect(statuses.filter((s) => s === 409)).toHaveLength(49);
        for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.code).toBe("slot_taken");
        expect(await countFor(clinic.paciente)).toBe(1);
      },
    );
  });

  describe("errors", () => {
    it.skipIf(skip)("bad bodies answer 400 with the fields at fault, and write nothing", async () => {
      const ok = { paciente_id: fx.pacA, data_consulta: slot(), duracao_min: 50 };
      const cases: [unknown, string][] = [
        [{ ...ok, data_consulta: "2030-03-01T10:00:00" }, "data_consulta"],
        [{ ...ok, data_consulta: "2030-03-01" }, "data_consulta"],
        [{ ...ok, data_consulta: "1999-12-31T23:00:00Z" }, "data_consulta"],
        [{ ...ok, data_consulta: "2200-01-01T00:00:00Z" }, "data_consulta"],
        [{ ...ok, duracao_min: 4 }, "duracao_min"],
        [{ ...ok, duracao_min: 481 }, "duracao_min"],
        [{ ...ok, duracao_min: 50.5 }, "duracao_min"],
        [{ ...ok, duracao_min: "50" }, "duracao_min"],
        [{ ...ok, paciente_id: "42" }, "paciente_id"],
        [{ ...ok, observacoes: "x".repeat(10_001) }, "observacoes"],
        [{ ...ok, status: "realizada" }, ""],
      ];
      const before = await countFor(fx.pacA);
      for (const [body, field] of cases) {
        const res = await api(as("fisioA"), "POST", "/v1/consultas", body);
        expect(res.status, JSON.stringify(body).slice(0, 200)).toBe(400);
        expect(res.body.error.code).toBe("bad_request");
        expect(res.roundTrips).toBe(0);
        if (field) expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
      }
      expect((await api(as("fisioA"), "POST", "/v1/consultas", "{not json")).status).toBe(400);
      const noFisio = await api(admin, "POST", "/v1/consultas", ok);
      expect(noFisio.status).toBe(400);
      expect(noFisio.body.error.details[0].path).toBe("fisioterapeuta_id");
      expect(await countFor(fx.pacA)).toBe(before);
    });

    it.skipIf(skip)("bad ids, ranges, cursors, queries and headers answer 400", async () => {
      const month = monthStart(1).toISOString().slice(0, 10);
      for (const path of [
        "/v1/consultas/not-a-uuid",
        "/v1/consultas?cursor=garbage",
        "/v1/consultas?limit=0",
        "/v1/consultas?limit=101",
        "/v1/consultas?status=adiada",
        "/v1/consultas?paciente_id=42",
        "/v1/consultas?fisioterapeuta_id=42",
        "/v1/consultas?from=amanha",
        "/v1/consultas?from=2030-03-01T10:00:00",
        // An unencoded `+` arrives as a space.
        "/v1/consultas?from=2030-03-01T10:00:00+03:00",
        "/v1/consultas?from=1999-01-01",
        `/v1/consultas?from=${month}&to=${month}`,
        "/v1/consultas?from=2030-03-02&to=2030-03-01",
        "/v1/consultas?from=2030-01-01&to=2031-01-03",
      ]) {
        const res = await api(as("fisioA"), "GET", path);
        expect(res.status, path).toBe(400);
        expect(res.roundTrips, path).toBe(0);
      }
      const year = await api(as("fisioA"), "GET", "/v1/consultas?from=2030-01-01&to=2031-01-01");
      expect(year.status).toBe(200);

      const id = (await book(as("fisioA"), fx.pacA, slot())).body.id;
      const patch = (body: unknown, headers?: Record<string, string>) =>
        api(as("fisioA"), "PATCH", `/v1/consultas/${id}`, body, headers);
      for (const body of [
        {},
        { status: "adiada" },
        { duracao_min: 0 },
        { data_consulta: "2030-03-01T10:00:00" },
        { fisioterapeuta_id: fx.fisioB },
        { paciente_id: fx.pacB },
      ]) {
        const res = await patch(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.roundTrips).toBe(0);
      }
      expect((await patch({ status: "confirmada" }, { "if-match": "W/garbage, other" })).status).toBe(412);
      expect(
        (
          await api(
            as("fisioA"),
            "POST",
            "/v1/consultas",
            { paciente_id: fx.pacA, data_consulta: slot(), duracao_min: 50 },
            { "idempotency-key": "spaces are bad" },
          )
        ).status,
      ).toBe(400);
    });

    it.skipIf(skip)(
      "every status change the rules forbid answers 422 and writes nothing",
      { timeout: 90_000 },
      async () => {
        for (const from of consultaStatus) {
          for (const to of consultaStatus) {
            const id = (await book(as("fisioA"), fx.pacA, slot())).body.id;
            if (from !== "agendada") await setStatus(id, from);
            const before = await row(id);
            const res = await api(as("fisioA"), "PATCH", `/v1/consultas/${id}`, { status: to });
            expect(res.roundTrips, `${from} → ${to}`).toBe(1);
            if (to === from || CONSULTA_TRANSITIONS[from].includes(to)) {
              expect(res.status, `${from} → ${to}`).toBe(200);
              expect((await row(id)).status).toBe(to);
            } else {
              expect(res.status, `${from} → ${to}`).toBe(422);
              expect(res.body.error.code).toBe("invalid_transition");
              expect(res.body.error.details).toMatchObject({ from, to });
              expect(await row(id), `${from} → ${to}`).toEqual(before);
            }
          }
        }
        // The rules themselves, as the brief states them.
        expect(CONSULTA_TRANSITIONS).toEqual({
          agendada: ["confirmada", "cancelada", "falta"],
          confirmada: ["realizada", "cancelada", "falta"],
          realizada: [],
          cancelada: [],
          falta: [],
        });
      },
    );

    it.skipIf(skip)("a realizada, cancelada or falta consulta cannot be moved (422)", async () => {
      for (const status of ["realizada", "cancelada", "falta"]) {
        const id = (await book(as("fisioA"), fx.pacA, slot())).body.id;
        await setStatus(id, status);
        const before = await row(id);
        for (const body of [{ data_consulta: slot() }, { duracao_min: 30 }]) {
          const res = await api(as("fisioA"), "PATCH", `/v1/consultas/${id}`, body);
          expect(res.status, `${status} ${JSON.stringify(body)}`).toBe(422);
          expect(res.body.error.code).toBe("invalid_transition");
        }
        expect(await row(id)).toEqual(before);
      }
    });

    it.skipIf(skip)(
      "unknown ids answer 404; a missing or inactive paciente, or fisioterapeuta, 422",
      async () => {
        const missing = crypto.randomUUID();
        const get = await api(as("fisioA"), "GET", `/v1/consultas/${missing}`);
        expect(get.status).toBe(404);
        expect(get.roundTrips).toBe(1);
        const patch = await api(admin, "PATCH", `/v1/consultas/${missing}`, { status: "confirmada" });
        expect(patch.status).toBe(404);
        expect(patch.roundTrips).toBe(1);

        const noPaciente = await api(admin, "POST", "/v1/consultas", {
          paciente_id: missing,
          fisioterapeuta_id: fx.fisioA,
          data_consulta: slot(),
          duracao_min: 50,
        });
        expect(noPaciente.status).toBe(422);
        expect(noPaciente.roundTrips).toBe(1);
        expect(noPaciente.body.error.details[0].path).toBe("paciente_id");

        const clinic = await freshPair();
        await suite.cloud.system((c) =>
          c.query("UPDATE pacientes SET status = 'inativo' WHERE id = $1", [clinic.paciente]),
        );
        const inactive = await api(clinic.fisio, "POST", "/v1/consultas", {
          paciente_id: clinic.paciente,
          data_consulta: slot(),
          duracao_min: 50,
        });
        expect(inactive.status).toBe(422);
        expect(await countFor(clinic.paciente)).toBe(0);

        const noFisio = await api(admin, "POST", "/v1/consultas", {
          paciente_id: fx.pacA,
          fisioterapeuta_id: missing,
          data_consulta: slot(),
          duracao_min: 50,
        });
        expect(noFisio.status).toBe(422);
        expect(noFisio.body.error.code).toBe("unprocessable_entity");
      },
    );
  });

  describe("security", () => {
    it.skipIf(skip)(
      "fisioterapeuta B cannot read, list, book for, move or cancel A's paciente's consultas",
      async () => {
        const mine = await book(as("fisioA"), fx.pacA, slot());
        const theirs = await book(as("fisioB"), fx.pacB, slot());
        const id = mine.body.id;
        const before = await row(id);
        const count = await countFor(fx.pacA);
        const countB = await countFor(fx.pacB);
        const b = as("fisioB");
        // A range holding exactly these two consultas, whoever may see them.
        const range = `from=${encodeURIComponent(mine.body.data_consulta)}&to=${encodeURIComponent(iso(Date.parse(theirs.body.data_consulta) + HOUR))}`;
        expect((await api(admin, "GET", `/v1/consultas?${range}`)).body.data).toHaveLength(2);

        const got = await api(b, "GET", `/v1/consultas/${id}`);
        expect(got.status).toBe(404);
        expect(got.roundTrips).toBe(1);
        const list = await api(b, "GET", `/v1/consultas?${range}`);
        expect(list.status).toBe(200);
        expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([theirs.body.id]);
        const filtered = await api(b, "GET", `/v1/consultas?${range}&paciente_id=${fx.pacA}`);
        expect(filtered.body.data).toEqual([]);

        // Booking for A's paciente answers like a missing paciente; in A's name for B's own, 403.
        const forA = await api(b, "POST", "/v1/consultas", {
          paciente_id: fx.pacA,
          data_consulta: slot(),
          duracao_min: 50,
        });
        expect(forA.status).toBe(422);
        const inAsName = await api(b, "POST", "/v1/consultas", {
          paciente_id: fx.pacB,
          fisioterapeuta_id: fx.fisioA,
          data_consulta: slot(),
          duracao_min: 50,
        });
        expect(inAsName.status).toBe(403);
        expect(inAsName.roundTrips).toBe(1);

        for (const body of [{ data_consulta: slot() }, { status: "cancelada" }, { observacoes: "x" }]) {
          const res = await api(b, "PATCH", `/v1/consultas/${id}`, body, {
            "if-match": mine.headers.get("etag")!,
          });
          expect(res.status, JSON.stringify(body)).toBe(404);
          expect(res.roundTrips).toBe(1);
        }
        expect(await row(id)).toEqual(before);
        expect(await countFor(fx.pacA)).toBe(count);
        expect(await countFor(fx.pacB)).toBe(countB);
      },
    );

    it.skipIf(skip)("a paciente sees only their own consultas and writes nothing", async () => {
      const own = await book(as("fisioA"), fx.pacA, slot());
      const other = await book(as("fisioB"), fx.pacB, slot());
      const range = `from=${encodeURIComponent(own.body.data_consulta)}&to=${encodeURIComponent(iso(Date.parse(other.body.data_consulta) + HOUR))}`;
      expect((await api(admin, "GET", `/v1/consultas?${range}`)).body.data).toHaveLength(2);

      const self = await api(as("pacA"), "GET", `/v1/consultas/${own.body.id}`);
      expect(self.status).toBe(200);
      expect(self.body.id).toBe(own.body.id);
      expect((await api(as("pacA"), "GET", `/v1/consultas/${other.body.id}`)).status).toBe(404);
      const list = await api(as("pacA"), "GET", `/v1/consultas?${range}`);
      expect(list.status).toBe(200);
      expect(list.roundTrips).toBe(1);
      expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([own.body.id]);
      expect(
        (await api(as("pacA"), "GET", `/v1/consultas?${range}&paciente_id=${fx.pacB}`)).body.data,
      ).toEqual([]);

      const before = await row(own.body.id);
      const count = await countFor(fx.pacA);
      const post = await api(as("pacA"), "POST", "/v1/consultas", {
        paciente_id: fx.pacA,
        fisioterapeuta_id: fx.fisioA,
        data_consulta: slot(),
        duracao_min: 50,
      });
      expect(post.status).toBe(403);
      expect(post.roundTrips).toBe(0);
      const patch = await api(as("pacA"), "PATCH", `/v1/consultas/${own.body.id}`, { status: "cancelada" });
      expect(patch.status).toBe(403);
      expect(await row(own.body.id)).toEqual(before);
      expect(await countFor(fx.pacA)).toBe(count);
    });

    it.skipIf(skip)("answers carry no SQL, constraint names or driver text", async () => {
      const at = slot();
      await book(as("fisioA"), fx.pacA, at);
      const answers = [
        await api(as("fisioA"), "POST", "/v1/consultas", {
          paciente_id: fx.pacA,
          data_consulta: at,
          duracao_min: 50,
        }),
        await api(as("fisioB"), "POST", "/v1/consultas", {
          paciente_id: fx.pacB,
          fisioterapeuta_id: fx.fisioA,
          data_consulta: slot(),
          duracao_min: 50,
        }),
        await api(admin, "POST", "/v1/consultas", {
          paciente_id: fx.pacA,
          fisioterapeuta_id: crypto.randomUUID(),
          data_consulta: slot(),
          duracao_min: 50,
        }),
      ];
      expect(answers.map((a) => a.status)).toEqual([409, 403, 422]);
      // Stack frames as "    at ": the slot_taken message itself says "a consulta at that time".
      for (const a of answers) expectNoLeak(a.body, ["consultas_", "23P01", "Key (", "    at ", ".ts:"]);
    });

    it.skipIf(skip)(
      "the list query for a one-month range reads only that month's partition (EXPLAIN, app role)",
      async () => {
        configureNeonForLocal(suite.cloud.neon);
        const sql = neon(suite.cloud.vars.DATABASE_URL!);
        /** The consultas partitions a plan of the list query reads, for a caller and a range. */
        const partitionsRead = async (
          auth: Auth,
          from: Date,
          to: Date,
          extra: { paciente_id?: string } = {},
        ) => {
          const { text, params } = listConsultas({
            from: from.toISOString(),
            to: to.toISOString(),
            limit: 21,
            ...extra,
          });
          const [rows] = (await withAuth(sql, { auth, signer: TEST_SIGNER }, (q) => [
            q.query(`EXPLAIN (FORMAT JSON) ${text}`, params),
          ])) as {
            "QUERY PLAN": unknown;
          }[][];
          const names = new Set<string>();
          const walk = (node: unknown): void => {
            if (Array.isArray(node)) node.forEach(walk);
            else if (node && typeof node === "object") {
              for (const [k, v] of Object.entries(node)) {
                if (k === "Relation Name" && typeof v === "string" && v.startsWith("consultas")) names.add(v);
                else walk(v);
              }
            }
          };
          const plan = rows![0]!["QUERY PLAN"];
          walk(typeof plan === "string" ? JSON.parse(plan) : plan);
          return [...names].sort();
        };
        const m1 = monthStart(1);
        const m2 = monthStart(2);
        const m3 = monthStart(3);
        expect(await partitionsRead(admin, m1, m2)).toEqual([partitionOf(m1)]);
        expect(await partitionsRead(as("fisioA"), m2, m3, { paciente_id: fx.pacA })).toEqual([
          partitionOf(m2),
        ]);
        // Two months in range → both, and nothing else (not DEFAULT, not the other months).
        const mid = new Date(m1.getTime() + 15 * 24 * HOUR);
        const mid2 = new Date(m2.getTime() + 15 * 24 * HOUR);
        expect(await partitionsRead(admin, mid, mid2)).toEqual([partitionOf(m1), partitionOf(m2)].sort());
        // The database has more partitions than that (the assertion can tell them apart).
        const all = await suite.cloud.system((c) =>
          c.query(
            "SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'public.consultas'::regclass",
          ),
        );
        expect(all.rows[0].n).toBeGreaterThanOrEqual(4);
      },
    );
  });
});
