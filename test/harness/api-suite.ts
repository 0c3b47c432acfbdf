/**
 * What every /v1 resource test file (workerd against the local Neon endpoint) sets up the same
 * way, per database backend: a cloud, the two-clinic fixture, an API client, the actors that call
 * it, owner-side reads of what is really stored, and the check that an answer leaks nothing.
 *
 * `apiSuite(name, skip)` goes at the top of a `describe.each(await testBackends())` block and
 * registers that block's beforeAll/afterAll. The cloud and the fixture exist only once beforeAll
 * has run, so everything here reads them when a test calls it, never when the file is collected:
 * that is what lets a file destructure `{ api, as, admin, fx }` right away.
 */
import { afterAll, beforeAll, expect } from "vitest";
import type { Auth } from "../../db/session";
import { apiClient, type CallApi } from "./api";
import type { BackendName } from "./backends";
import { type Cloud, startCloud } from "./cloud";
import { createFixture, type Fixture } from "./db";
import type { Json } from "./http";
import { REDIS_TEST_DB, testRedisBackends } from "./redis";

const realRedis = (await testRedisBackends()).find((b) => b.name === "redis" && !b.skip);

/** A cloud for the app tests: the real redis-server's app db where one runs, else the emulator's store. */
export function startAppCloud(backend: BackendName): Promise<Cloud> {
  return startCloud({ backend, redisUrl: realRedis?.redisUrl(REDIS_TEST_DB.app) });
}

/** The fixture's users: fisioA treats pacA, fisioB treats pacB. */
export type Actor = keyof Fixture;
const ROLES: Record<Actor, Auth["role"]> = {
  fisioA: "fisioterapeuta",
  fisioB: "fisioterapeuta",
  pacA: "paciente",
  pacB: "paciente",
};

export interface ApiSuite {
  /** This backend's cloud (worker, Neon endpoint, emulators). */
  readonly cloud: Cloud;
  /** The fixture's ids; each is read when used, so the object itself may be kept from the start. */
  readonly fx: Fixture;
  /** Calls the worker as a user and counts the Neon round trips each call cost. */
  readonly api: CallApi;
  /** An admin no row names: admins see everything by role, not by id. */
  readonly admin: Auth;
  /** The token identity of one of the fixture's users. */
  as(actor: Actor): Auth;
  /** An owner-side query under the 'system' identity: what is stored, whatever RLS shows callers. */
  rows(text: string, params?: unknown[]): Promise<Json[]>;
  /** The first row of `rows` (undefined when there is none). */
  first(text: string, params?: unknown[]): Promise<Json>;
  /** Column `n` of the first row, for `SELECT count(*)::int AS n …` checks. */
  count(text: string, params?: unknown[]): Promise<number>;
  /** A new fisioterapeuta with one paciente of their own, for a test that needs a clean history. */
  freshPair(): Promise<{ fisio: Auth; paciente: string }>;
}

export function apiSuite(backend: BackendName, skip: string | null): ApiSuite {
  let cloud: Cloud | undefined;
  let fixture: Fixture | undefined;
  let client: CallApi | undefined;
  beforeAll(async () => {
    if (skip) return;
    cloud = await startAppCloud(backend);
    // The backend in the emails keeps the two backends' fixtures apart on a shared Postgres.
    fixture = await createFixture(cloud, `-${backend}`);
    client = apiClient(cloud);
  });
  afterAll(async () => {
    await cloud?.close();
  });

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`apiSuite(${backend}): ${what} is used before beforeAll ran`);
    return value;
  };
  const fx: Fixture = {
    get fisioA() {
      return ready(fixture, "the fixture").fisioA;
    },
    get fisioB() {
      return ready(fixture, "the fixture").fisioB;
    },
    get pacA() {
      return ready(fixture, "the fixture").pacA;
    },
    get pacB() {
      return ready(fixture, "the fixture").pacB;
    },
  };
  const rows = async (text: string, params: unknown[] = []) =>
    (await ready(cloud, "the cloud").system((c) => c.query(text, params))).rows;

  return {
    get cloud() {
      return ready(cloud, "the cloud");
    },
    fx,
    api: (...args) => ready(client, "the API client")(...args),
    admin: { userId: crypto.randomUUID(), role: "admin" },
    as: (actor) => ({ userId: fx[actor], role: ROLES[actor] }),
    rows,
    first: async (text, params) => (await rows(text, params))[0],
    count: async (text, params) => (await rows(text, params))[0].n,
    async freshPair() {
      const fisio = crypto.randomUUID();
      const paciente = crypto.randomUUID();
      await ready(cloud, "the cloud").system(async (c) => {
        await c.query(
          "INSERT INTO fisioterapeutas (id, nome, email, crefito) VALUES ($1, 'Fresca', $2, 'CREFITO-3/9-F')",
          [fisio, `fresca.${fisio}@x.br`],
        );
        await c.query(
          "INSERT INTO pacientes (id, nome, fisioterapeuta_id) VALUES ($1, 'Paciente Fresco', $2)",
          [paciente, fisio],
        );
      });
      return { fisio: { userId: fisio, role: "fisioterapeuta" }, paciente };
    },
  };
}

/**
 * What no answer may carry: the connection string, SQL or the driver's wording. Stack frames are
 * the caller's to add, as "at " where the answer's own words never hold it, else "    at ".
 */
const LEAKS = ["postgresql://", "INSERT", "password", "violates"];

/** Fails when the answer's body, as JSON text, holds any of LEAKS or of `extra`. */
export function expectNoLeak(body: Json, extra: string[] = []): void {
  const text = JSON.stringify(body);
  for (const leak of [...LEAKS, ...extra]) expect(text, leak).not.toContain(leak);
}
