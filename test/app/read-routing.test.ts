/**
 * Read routing with READ_REPLICA_URLS, the app in process: a primary and two "replicas", each a
 * local endpoint with a database of its own, so an answer tells which one served it (a real
 * replica has the primary's data; here the copies differ on purpose). Reads go to the replicas
 * in turn, a failed replica falls back to the primary, writes go to the primary, and a user's
 * reads right after their own write do too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashRedis, type UpstashRedisEmulator } from "../../dev/upstash-redis";
import { createApp } from "../../functions/app";
import { IN_PROCESS_ENV, requestApp } from "../harness/app";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { ownerSessions } from "../harness/db";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";
import type { Json } from "../harness/http";

const backends = await testBackends();

describe.each(backends)("read routing on $name", ({ name, skip }) => {
  const fisio = crypto.randomUUID();
  const paciente = crypto.randomUUID();
  const dbs: Record<"primary" | "r1" | "r2", TestEndpoint> = {} as never;
  let redis: UpstashRedisEmulator;
  const app = createApp();

  beforeAll(async () => {
    if (skip) return;
    for (const which of ["primary", "r1", "r2"] as const) {
      const db = await startTestEndpoint(name, { prefix: `route_${which}`, migrate: true });
      const owner = ownerSessions(db.ownerUrl);
      // The same ids everywhere; the nome says which database answered.
      await owner.system(async (c) => {
        await c.query(
          "INSERT INTO fisioterapeutas (id, nome, email, crefito) VALUES ($1, 'F', $2, 'CREFITO-3/1-F')",
          [fisio, `f.${fisio}@x.br`],
        );
        await c.query("INSERT INTO pacientes (id, nome, fisioterapeuta_id) VALUES ($1, $2, $3)", [
          paciente,
          which,
          fisio,
        ]);
      });
      await owner.end();
      dbs[which] = db;
    }
    redis = await startUpstashRedis({ port: 0 });
  });
  afterAll(async () => {
    await redis?.close();
    for (const db of Object.values(dbs)) await db.close();
  });

  const call = async (method: string, path: string, replicas: string[], body?: unknown) => {
    const token = await tokenFor({ userId: fisio, role: "fisioterapeuta" }, IN_PROCESS_ENV.JWT_SECRET!);
    const res = await requestApp(
      app,
      path,
      {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      {
        NEON_FETCH_ENDPOINT: dbs.primary.endpoint.sqlUrl,
        DATABASE_URL: dbs.primary.appUrl,
        READ_REPLICA_URLS: replicas.join(","),
        READ_YOUR_WRITES_SECONDS: "2",
        UPSTASH_REDIS_REST_URL: redis.url,
        UPSTASH_REDIS_REST_TOKEN: redis.token,
      },
    );
    return { status: res.status, body: (await res.json()) as Json };
  };
  const servedBy = async (replicas: string[]) =>
    (await call("GET", "/v1/pacientes?limit=5", replicas)).body.data.map((p: { nome: string }) => p.nome)[0];

  it.skipIf(skip)(
    "reads go to the replicas in turn; a replica that fails hands the read to the primary",
    async () => {
      const replicas = [dbs.r1.appUrl, dbs.r2.appUrl];
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push(await servedBy(replicas));
      expect(new Set(seen)).toEqual(new Set(["r1", "r2"]));
      expect(seen[0]).not.toBe(seen[1]);
      expect(seen[1]).not.toBe(seen[2]);
      const dead = "postgresql://fisioflow_app:x@localhost:9/fisioflow";
      expect(await servedBy([dead])).toBe("primary");
    },
  );

  it.skipIf(skip)(
    "a write goes to the primary, and the writer's next reads too, until the window passes",
    async () => {
      const replicas = [dbs.r1.appUrl];
      const patched = await call("PATCH", `/v1/pacientes/${paciente}`, replicas, {
        telefone: "11 5555-0000",
      });
      expect([patched.status, patched.body.nome]).toEqual([200, "primary"]);
      expect(await servedBy(replicas)).toBe("primary");
      await new Promise((r) => setTimeout(r, 2_200));
      expect(await servedBy(replicas)).toBe("r1");
    },
  );
});
