/**
 * Prontuario attachments with the app in process, on both database backends, the bytes in
 * miniflare's R2 (wrangler's platform proxy, as `wrangler dev` binds FILES) and Redis behind the
 * Upstash emulator (idempotency):
 * - upload → download round trip, byte for byte, with the download's headers;
 * - another fisioterapeuta can neither list, download nor attach (404), other roles get 403;
 * - 413 over the size limit (by Content-Length and while streaming), 415 for a type not taken or
 *   bytes that are not of the declared type, 400 for a name with a path or control characters —
 *   and none of these leaves bytes in R2 or a row behind;
 * - the name travels in X-Nome-Arquivo (percent-encoded UTF-8), never in the URL: `?nome=`, a
 *   missing header or a malformed encoding answer 400; the name reaches no log line; CORS lets a
 *   browser send the header; /openapi.json documents it;
 * - every download is audited (who, which attachment; never the name), listing is not;
 * - anonymising the paciente keeps rows and bytes and drops the names;
 * - Idempotency-Key replays an upload, and the same key with other bytes or another name is 422;
 *   storage missing or unbound answers 503.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Auth } from "../../db/session";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { createApp } from "../../functions/app";
import { ANEXO_MAX_BYTES } from "../../functions/v1/anexos/limits";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, type OwnerSessions, ownerSessions } from "../harness/db";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import type { Json } from "../harness/http";
import { startR2, type TestR2 } from "../harness/r2";

const backends = await testBackends();

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PDF = [...new TextEncoder().encode("%PDF-1.7\n")];

/** `size` bytes that start like a file of the given signature; the rest varies per call. */
function fileBytes(magic: number[], size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  crypto.getRandomValues(bytes.subarray(0, Math.min(size, 65_536)));
  for (let i = 65_536; i < size; i++) bytes[i] = (i * 31) & 0xff;
  bytes.set(magic);
  return bytes;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

// One R2 for the file: every upload has a key of its own.
let r2: TestR2 | undefined;
beforeAll(async () => {
  if (backends.some((b) => !b.skip)) r2 = await startR2();
});
afterAll(async () => {
  await r2?.close();
});

describe.each(backends)("prontuario attachments on $name", ({ name, skip }) => {
  let t: TestEndpoint;
  let redis: UpstashRedisEmulator;
  let owner: OwnerSessions;
  let fx: Fixture;
  let env: Record<string, unknown>;
  let prontuarioA: string;
  const app = createApp();
  const admin: Auth = { userId: crypto.randomUUID(), role: "admin" };
  const fisioA = (): Auth => ({ userId: fx.fisioA, role: "fisioterapeuta" });
  const fisioB = (): Auth => ({ userId: fx.fisioB, role: "fisioterapeuta" });
  const pacA = (): Auth => ({ userId: fx.pacA, role: "paciente" });

  const newProntuario = async (paciente: string, fisio: string) =>
    (
      await owner.system((c) =>
        c.query(
          "INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, conteudo) VALUES ($1, $2, 'Exames anexos') RETURNING id",
          [paciente, fisio],
        ),
      )
    ).rows[0].id as string;

  beforeAll(async () => {
    if (skip) return;
    t = await startTestEndpoint(name, { prefix: "anexos", migrate: true });
    redis = await startUpstashRedis({ port: 0 });
    owner = ownerSessions(t.ownerUrl);
    fx = await createFixture(owner);
    prontuarioA = await newProntuario(fx.pacA, fx.fisioA);
    env = {
      DATABASE_URL: t.appUrl,
      NEON_FETCH_ENDPOINT: t.endpoint.sqlUrl,
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: redis.token,
      FILES: r2!.bucket,
    };
  });
  afterAll(async () => {
    await redis?.close();
    await owner?.end();
    await t?.close();
  });

  interface Answer {
    status: number;
    headers: Headers;
    /** JSON when the answer is JSON, else null (see bytes). */
    body: Json;
    bytes: Uint8Array;
  }
  async function call(
    auth: Auth | null,
    method: string,
    path: string,
    init: { body?: RequestInit["body"]; headers?: Record<string, string> } = {},
    bindings = env,
  ): Promise<Answer> {
    const res = await requestApp(
      app,
      path,
      {
        method,
        headers: {
          ...(auth ? { authorization: `Bearer ${await tokenFor(auth, IN_PROCESS_ENV.JWT_SECRET!)}` } : {}),
          ...init.headers,
        },
        ...(init.body === undefined ? {} : { body: init.body, duplex: "half" }),
      } as RequestInit,
      bindings,
    );
    const bytes = new Uint8Array(await res.arrayBuffer());
    const isJson = res.headers.get("content-type")?.startsWith("application/json");
    return {
      status: res.status,
      headers: res.headers,
      body: isJson ? JSON.parse(new TextDecoder().decode(bytes)) : null,
      bytes,
    };
  }
  /** The file name in X-Nome-Arquivo, percent-encoded as a browser's encodeURIComponent makes it. */
  const named = (nome: string) => ({ "x-nome-arquivo": encodeURIComponent(nome) });
  const upload = (
    auth: Auth,
    prontuario: string,
    bytes: Uint8Array,
    type: string,
    nome: string,
    headers: Record<string, string> = {},
    bindings = env,
  ) =>
    call(
      auth,
      "POST",
      `/v1/prontuarios/${prontuario}/anexos`,
      {
        body: bytes as Uint8Array<ArrayBuffer>,
        headers: { "content-type": type, ...named(nome), ...headers },
      },
      bindings,
    );
  const download = (auth: Auth, id: string, headers: Record<string, string> = {}) =>
    call(auth, "GET", `/v1/anexos/${id}/conteudo`, { headers });
  /** What R2 holds for a prontuario, and the rows that describe it (the owner's view). */
  const stored = async (prontuario: string) => {
    const objects = (await r2!.bucket.list({ prefix: `anexos/${prontuario}/` })).objects.map((o) => o.key);
    const rows = (
      await owner.system((c) =>
        c.query("SELECT r2_key FROM anexos WHERE prontuario_id = $1 ORDER BY r2_key", [prontuario]),
      )
    ).rows.map((r) => r.r2_key as string);
    return { objects: objects.sort(), rows };
  };
  const auditOf = async (anexo: string) =>
    (
      await owner.system((c) =>
        c.query(
          `SELECT actor_id, actor_role, operacao, colunas, to_jsonb(l)::text AS raw FROM audit.log l
            WHERE tabela = 'anexos' AND row_id = $1 ORDER BY id`,
          [anexo],
        ),
      )
    ).rows;

  it.skipIf(skip)(
    "uploads over the API's default body limit and downloads the same bytes, with safe headers",
    async () => {
      // Over the 256 KiB every other route takes: uploads have a limit of their own.
      const bytes = fileBytes(PNG, 300 * 1024);
      const nome = "Raio-X joelho (direito) ç.png";
      const res = await upload(fisioA(), prontuarioA, bytes, "image/png", nome);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        prontuario_id: prontuarioA,
        fisioterapeuta_id: fx.fisioA,
        nome_arquivo: nome,
        content_type: "image/png",
        tamanho: bytes.length,
        sha256: sha256(bytes),
        created_at: expect.any(String),
      });
      const id = res.body.id as string;
      expect(res.headers.get("location")).toBe(`/v1/anexos/${id}/conteudo`);
      // The key has ids only, and the answer does not show it.
      const key = `anexos/${prontuarioA}/${id}`;
      expect(await stored(prontuarioA)).toMatchObject({ rows: expect.arrayContaining([key]) });
      expect((await r2!.bucket.head(key))?.size).toBe(bytes.length);
      expect(JSON.stringify(res.body)).not.toContain("anexos/");

      for (const who of [fisioA(), pacA()]) {
        const got = await download(who, id);
        expect(got.status, who.role).toBe(200);
        expect(Buffer.from(got.bytes).equals(Buffer.from(bytes)), who.role).toBe(true);
        expect(Object.fromEntries(got.headers)).toMatchObject({
          "content-type": "image/png",
          "content-length": String(bytes.length),
          "content-disposition": `attachment; filename="Raio-X joelho (direito) _.png"; filename*=UTF-8''Raio-X%20joelho%20%28direito%29%20%C3%A7.png`,
          "x-content-type-options": "nosniff",
          "cache-control": "private, no-store",
          etag: `"${sha256(bytes)}"`,
        });
      }
      const list = await call(pacA(), "GET", `/v1/prontuarios/${prontuarioA}/anexos`);
      expect(list.status).toBe(200);
      expect(list.body.data.find((a: Json) => a.id === id)).toEqual(res.body);
    },
  );

  it.skipIf(skip)("another fisioterapeuta gets 404 for everything; other roles 403", async () => {
    const pdf = fileBytes(PDF, 2048);
    const mine = await upload(fisioA(), prontuarioA, pdf, "application/pdf", "laudo.pdf");
    expect(mine.status).toBe(201);
    const before = await stored(prontuarioA);

    expect((await download(fisioB(), mine.body.id)).status).toBe(404);
    expect((await call(fisioB(), "GET", `/v1/prontuarios/${prontuarioA}/anexos`)).status).toBe(404);
    const attach = await upload(fisioB(), prontuarioA, pdf, "application/pdf", "intruso.pdf");
    expect(attach.status).toBe(404);
    expect(attach.body.error.code).toBe("not_found");
    // Nothing reached R2 or the table.
    expect(await stored(prontuarioA)).toEqual(before);
    // The other paciente cannot reach it either; an unknown id is the same 404.
    expect((await download({ userId: fx.pacB, role: "paciente" }, mine.body.id)).status).toBe(404);
    expect((await download(fisioA(), crypto.randomUUID())).status).toBe(404);
    // Roles: clinical content is not an admin's (as prontuarios), attaching is the fisioterapeuta's.
    expect((await download(admin, mine.body.id)).status).toBe(403);
    expect((await call(admin, "GET", `/v1/prontuarios/${prontuarioA}/anexos`)).status).toBe(403);
    expect((await upload(admin, prontuarioA, pdf, "application/pdf", "x.pdf")).status).toBe(403);
    expect((await upload(pacA(), prontuarioA, pdf, "application/pdf", "x.pdf")).status).toBe(403);
    expect((await call(null, "GET", `/v1/anexos/${mine.body.id}/conteudo`)).status).toBe(401);
    expect(await stored(prontuarioA)).toEqual(before);
  });

  it.skipIf(skip)(
    "refuses too large (413), wrong types (415) and bad names (400), storing nothing",
    async () => {
      const prontuario = await newProntuario(fx.pacA, fx.fisioA);
      const path = `/v1/prontuarios/${prontuario}/anexos`;
      // Declared too large: refused by Content-Length, before a byte is read.
      const declared = await call(fisioA(), "POST", path, {
        body: new Uint8Array(PDF),
        headers: {
          "content-type": "application/pdf",
          "content-length": String(ANEXO_MAX_BYTES + 1),
          ...named("grande.pdf"),
        },
      });
      expect(declared.status).toBe(413);
      expect(declared.body.error.code).toBe("payload_too_large");
      // Streamed with no Content-Length: refused once it passes the limit.
      const chunk = fileBytes(PDF, 1024 * 1024);
      const streamed = await call(fisioA(), "POST", path, {
        body: new ReadableStream<Uint8Array>({
          start(controller) {
            for (let sent = 0; sent <= ANEXO_MAX_BYTES; sent += chunk.length) controller.enqueue(chunk);
            controller.close();
          },
        }),
        headers: { "content-type": "application/pdf", ...named("grande.pdf") },
      });
      expect(streamed.status).toBe(413);
      expect(streamed.body.error.code).toBe("payload_too_large");

      const png = fileBytes(PNG, 4096);
      for (const [type, bytes] of [
        ["text/plain", png],
        ["image/gif", png],
        ["application/pdf", png], // PNG bytes declared as a PDF
        ["image/webp", fileBytes([0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x41, 0x56, 0x49, 0x20], 64)], // RIFF AVI
      ] as const) {
        const res = await upload(fisioA(), prontuario, bytes, type, "arquivo");
        expect(res.status, type).toBe(415);
        expect(res.body.error.code, type).toBe("unsupported_media_type");
      }
      for (const nome of ["../../etc/passwd", "a\\b.png", "nome\u0000.png", "a\u202egnp.exe", "..", ""]) {
        const res = await upload(fisioA(), prontuario, png, "image/png", nome);
        expect(res.status, JSON.stringify(nome)).toBe(400);
      }
      const empty = await upload(fisioA(), prontuario, new Uint8Array(0), "image/png", "vazio.png");
      expect(empty.status).toBe(400);
      expect(await stored(prontuario)).toEqual({ objects: [], rows: [] });
      // The same request within the limits is taken (WebP: RIFF....WEBP).
      const webp = fileBytes([0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50], 512);
      expect(
        (await upload(fisioA(), prontuario, webp, "image/webp; charset=binary", "foto.webp")).status,
      ).toBe(201);
    },
  );

  it.skipIf(skip)(
    "takes the name from X-Nome-Arquivo only: never from the URL, and never into a log line",
    async () => {
      const prontuario = await newProntuario(fx.pacA, fx.fisioA);
      const png = fileBytes(PNG, 600);
      const post = (query: string, headers: Record<string, string>) =>
        call(fisioA(), "POST", `/v1/prontuarios/${prontuario}/anexos${query}`, {
          body: png as Uint8Array<ArrayBuffer>,
          headers: { "content-type": "image/png", ...headers },
        });

      // An old client (the name in ?nome=, no header) hears where the name goes; so does one that
      // sends both.
      for (const headers of [{}, named("raio-x.png")]) {
        const old = await post(`?${new URLSearchParams({ nome: "raio-x.png" })}`, headers);
        expect(old.status).toBe(400);
        expect(old.body.error.message).toMatch(/X-Nome-Arquivo header/);
        expect(old.body.error.details).toEqual([expect.objectContaining({ path: "nome" })]);
        expect(JSON.stringify(old.body)).not.toContain("raio-x");
      }
      const missing = await post("", {});
      expect(missing.status).toBe(400);
      expect(missing.body.error.details).toEqual([expect.objectContaining({ path: "x-nome-arquivo" })]);
      // Not percent-encoded UTF-8: 400 naming the header, the value not echoed.
      for (const bad of ["%", "100%.png", "%E0%A4%A", "%C3%28.png", "%FF.png", "%D8%00.png"]) {
        const res = await post("", { "x-nome-arquivo": bad });
        expect(res.status, bad).toBe(400);
        expect(res.body.error.details, bad).toEqual([
          expect.objectContaining({
            path: "x-nome-arquivo",
            message: expect.stringMatching(/X-Nome-Arquivo/),
          }),
        ]);
        expect(JSON.stringify(res.body), bad).not.toContain(bad);
      }
      // The name is checked once decoded: an encoded separator or control character is still one.
      for (const raw of ["..%2F..%2Fetc%2Fpasswd", "a%5Cb.png", "nome%00.png", "%2E%2E"]) {
        const res = await post("", { "x-nome-arquivo": raw });
        expect(res.status, raw).toBe(400);
        expect(res.body.error.details, raw).toEqual([expect.objectContaining({ path: "x-nome-arquivo" })]);
      }
      // 1 to 200 characters once decoded.
      for (const [nome, status] of [
        ["a".repeat(201), 400],
        ["€".repeat(201), 400],
        ["a".repeat(200), 201],
        ["€".repeat(200), 201], // 1800 characters encoded, the longest a valid name takes
        ["100% 😀 ção %2F.png", 201],
      ] as const) {
        const res = await upload(fisioA(), prontuario, png, "image/png", nome);
        expect(res.status, nome).toBe(status);
        if (res.status === 201) expect(res.body.nome_arquivo).toBe(nome);
      }
      expect(await stored(prontuario)).toMatchObject({ rows: { length: 3 }, objects: { length: 3 } });

      // Nothing the app logs carries the name, at the most verbose level, for a stored upload, a
      // refused one (415), a failed store (503) and an idempotent one.
      const nome = "Exame Marta Quintela.png";
      const lines: string[] = [];
      const capture = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
      const spies = [
        vi.spyOn(console, "log").mockImplementation(capture),
        vi.spyOn(console, "warn").mockImplementation(capture),
        vi.spyOn(console, "error").mockImplementation(capture),
      ];
      try {
        const verbose = { ...env, LOG_LEVEL: "debug" };
        const bucket = r2!.bucket;
        const failing = {
          get: bucket.get.bind(bucket),
          list: bucket.list.bind(bucket),
          delete: bucket.delete.bind(bucket),
          put: async () => {
            throw new Error(`refused ${nome}`);
          },
        };
        const idem = { "idempotency-key": `anexo-${crypto.randomUUID()}` };
        expect((await upload(fisioA(), prontuario, png, "image/png", nome, idem, verbose)).status).toBe(201);
        expect((await upload(fisioA(), prontuario, png, "image/png", nome, idem, verbose)).status).toBe(201);
        expect((await upload(fisioA(), prontuario, png, "application/pdf", nome, {}, verbose)).status).toBe(
          415,
        );
        expect(
          (await upload(fisioA(), prontuario, png, "image/png", nome, {}, { ...verbose, FILES: failing }))
            .status,
        ).toBe(503);
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
      expect(lines.some((l) => l.includes('"msg":"request"'))).toBe(true);
      for (const line of lines) {
        expect(line).not.toMatch(/Marta|Quintela/);
        expect(line).not.toContain(encodeURIComponent(nome));
      }
    },
  );

  it.skipIf(skip)("audits every download (who and which, never the name), not the listing", async () => {
    const nome = "exame sangue Carla Dias.pdf";
    const up = await upload(fisioA(), prontuarioA, fileBytes(PDF, 1000), "application/pdf", nome);
    expect(up.status).toBe(201);
    const id = up.body.id as string;
    expect((await call(fisioA(), "GET", `/v1/prontuarios/${prontuarioA}/anexos`)).status).toBe(200);
    expect((await download(fisioA(), id)).status).toBe(200);
    expect((await download(pacA(), id)).status).toBe(200);
    // A 304 was still a read of the record.
    expect((await download(fisioA(), id, { "if-none-match": `"${up.body.sha256}"` })).status).toBe(304);
    // Refused attempts read nothing.
    expect((await download(fisioB(), id)).status).toBe(404);
    const rows = await auditOf(id);
    expect(rows.map(({ raw: _, ...r }) => r)).toEqual([
      { actor_id: fx.fisioA, actor_role: "fisioterapeuta", operacao: "INSERT", colunas: expect.any(Array) },
      { actor_id: fx.fisioA, actor_role: "fisioterapeuta", operacao: "READ", colunas: null },
      { actor_id: fx.pacA, actor_role: "paciente", operacao: "READ", colunas: null },
      { actor_id: fx.fisioA, actor_role: "fisioterapeuta", operacao: "READ", colunas: null },
    ]);
    for (const r of rows) expect(r.raw).not.toMatch(/Carla|sangue|\.pdf/);
  });

  it.skipIf(skip)("anonymising the paciente keeps the attachment and its bytes, not its name", async () => {
    const paciente = crypto.randomUUID();
    await owner.system((c) =>
      c.query("INSERT INTO pacientes (id, nome, fisioterapeuta_id) VALUES ($1, 'Helena Prado', $2)", [
        paciente,
        fx.fisioA,
      ]),
    );
    const prontuario = await newProntuario(paciente, fx.fisioA);
    const bytes = fileBytes(PDF, 5000);
    const up = await upload(fisioA(), prontuario, bytes, "application/pdf", "Helena Prado - RM.pdf");
    expect(up.status).toBe(201);
    // The LGPD export lists the attachment (never its storage key), name included until anonymised.
    const lgpd = async () => (await call(admin, "GET", `/v1/pacientes/${paciente}/export`)).body.anexos;
    // As stored (timestamps in PostgreSQL's JSON form, like the export's other records).
    const { created_at: _when, ...meta } = up.body;
    expect(await lgpd()).toEqual([expect.objectContaining({ ...meta, paciente_id: paciente })]);
    expect((await lgpd())[0]).not.toHaveProperty("r2_key");
    const anon = await call(admin, "POST", `/v1/pacientes/${paciente}/anonymize`);
    expect(anon.status).toBe(200);
    expect(await lgpd()).toEqual([expect.objectContaining({ id: up.body.id, nome_arquivo: null })]);

    const list = await call(fisioA(), "GET", `/v1/prontuarios/${prontuario}/anexos`);
    expect(list.body.data).toEqual([{ ...up.body, nome_arquivo: null }]);
    const got = await download(fisioA(), up.body.id);
    expect(got.status).toBe(200);
    expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
    const generic = `anexo-${up.body.id}.pdf`;
    expect(got.headers.get("content-disposition")).toBe(
      `attachment; filename="${generic}"; filename*=UTF-8''${generic}`,
    );
    expect(await stored(prontuario)).toEqual({
      objects: [`anexos/${prontuario}/${up.body.id}`],
      rows: [`anexos/${prontuario}/${up.body.id}`],
    });
  });

  it.skipIf(skip)("an insert that fails after the bytes went to R2 leaves no bytes behind", async () => {
    // A rule the API does not know, so the database refuses the row after the put.
    const prontuario = await newProntuario(fx.pacA, fx.fisioA);
    await owner.withOwner((c) =>
      c.query(
        "ALTER TABLE anexos ADD CONSTRAINT anexos_teste_check CHECK (nome_arquivo <> 'recusado.pdf') NOT VALID",
      ),
    );
    try {
      const res = await upload(fisioA(), prontuario, fileBytes(PDF, 800), "application/pdf", "recusado.pdf");
      expect(res.status).toBe(422);
    } finally {
      await owner.withOwner((c) => c.query("ALTER TABLE anexos DROP CONSTRAINT anexos_teste_check"));
    }
    expect(await stored(prontuario)).toEqual({ objects: [], rows: [] });

    // The paciente moves to another fisioterapeuta while the bytes upload: no row, no bytes, 404.
    const paciente = crypto.randomUUID();
    await owner.system((c) =>
      c.query("INSERT INTO pacientes (id, nome, fisioterapeuta_id) VALUES ($1, 'Ivo Reis', $2)", [
        paciente,
        fx.fisioA,
      ]),
    );
    const moving = await newProntuario(paciente, fx.fisioA);
    const bucket = r2!.bucket;
    const racing = {
      ...bucket,
      list: bucket.list.bind(bucket),
      get: bucket.get.bind(bucket),
      delete: bucket.delete.bind(bucket),
      put: async (...args: Parameters<typeof bucket.put>) => {
        const out = await bucket.put(...args);
        await owner.system((c) =>
          c.query("UPDATE pacientes SET fisioterapeuta_id = $2 WHERE id = $1", [paciente, fx.fisioB]),
        );
        return out;
      },
    };
    const res = await upload(
      fisioA(),
      moving,
      fileBytes(PDF, 800),
      "application/pdf",
      "a.pdf",
      {},
      {
        ...env,
        FILES: racing,
      },
    );
    expect(res.status).toBe(404);
    expect(await stored(moving)).toEqual({ objects: [], rows: [] });
  });

  it.skipIf(skip)(
    "Idempotency-Key replays an upload; the key with other bytes or another name is 422",
    async () => {
      const prontuario = await newProntuario(fx.pacA, fx.fisioA);
      const key = { "idempotency-key": `anexo-${crypto.randomUUID()}` };
      const bytes = fileBytes(PNG, 3000);
      const first = await upload(fisioA(), prontuario, bytes, "image/png", "a.png", key);
      const again = await upload(fisioA(), prontuario, bytes, "image/png", "a.png", key);
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body).toEqual(first.body);
      const other = await upload(fisioA(), prontuario, fileBytes(PNG, 3000), "image/png", "a.png", key);
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe("idempotency_key_reused");
      // The name is part of what is stored: the same bytes under another name are another request.
      const renamed = await upload(fisioA(), prontuario, bytes, "image/png", "b.png", key);
      expect(renamed.status).toBe(422);
      expect(renamed.body.error.code).toBe("idempotency_key_reused");
      expect((await stored(prontuario)).rows).toHaveLength(1);
      // A name that decodes the same but was sent otherwise is not the same request either.
      const reencoded = await upload(fisioA(), prontuario, bytes, "image/png", "", {
        ...key,
        "x-nome-arquivo": "%61.png",
      });
      expect(reencoded.status).toBe(422);
      expect((await stored(prontuario)).rows).toHaveLength(1);
    },
  );

  it.skipIf(skip)("answers 503 when storage lost the bytes or is not bound", async () => {
    const up = await upload(fisioA(), prontuarioA, fileBytes(PNG, 100), "image/png", "perdido.png");
    expect(up.status).toBe(201);
    await r2!.bucket.delete(`anexos/${prontuarioA}/${up.body.id}`);
    const lost = await download(fisioA(), up.body.id);
    expect(lost.status).toBe(503);
    expect(lost.body.error.code).toBe("service_unavailable");

    const { FILES: _, ...unbound } = env;
    const put = await upload(fisioA(), prontuarioA, new Uint8Array(PNG), "image/png", "x.png", {}, unbound);
    expect(put.status).toBe(503);
    expect(put.body.error.message).toMatch(/not configured/);
    expect((await call(fisioA(), "GET", `/v1/anexos/${up.body.id}/conteudo`, {}, unbound)).status).toBe(503);
  });
});

describe("the upload's name header, as clients see it", () => {
  const app = createApp();

  it("is documented in /openapi.json, and no query parameter is", async () => {
    const doc = (await (await requestApp(app, "/openapi.json")).json()) as Json;
    const op = doc.paths["/v1/prontuarios/{id}/anexos"].post;
    const params = op.parameters as Json[];
    expect(params.find((p) => p.name === "x-nome-arquivo")).toMatchObject({
      in: "header",
      required: true,
      schema: { type: "string", maxLength: 1800 },
    });
    expect(params.filter((p) => p.in === "query")).toEqual([]);
    expect(op.description).toMatch(/X-Nome-Arquivo/);
  });

  it("may be sent by a browser from an allowed origin (CORS preflight)", async () => {
    const res = await requestApp(app, `/v1/prontuarios/${crypto.randomUUID()}/anexos`, {
      method: "OPTIONS",
      headers: {
        origin: IN_PROCESS_ENV.CORS_ORIGINS!,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-nome-arquivo",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(IN_PROCESS_ENV.CORS_ORIGINS);
    expect((res.headers.get("access-control-allow-headers") ?? "").toLowerCase()).toContain("x-nome-arquivo");
  });
});
