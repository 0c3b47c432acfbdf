/**
 * A migrated database behind the local Neon endpoint, per test file and backend. Tests reach it
 * only through @neondatabase/serverless: `neon()` over HTTP as the app role (one transaction
 * batch per request, identity first) and `Pool` over WebSocket for owner work and interactive
 * transactions.
 */
import {
  type NeonQueryFunction,
  type NeonQueryPromise,
  neon,
  Pool,
  type PoolClient,
} from "@neondatabase/serverless";
import { identitySigner } from "../../db/identity";
import { type Auth, SYSTEM_SQL, withAuth } from "../../db/session";
import { LOCAL } from "../../dev/config";
import type { NeonEndpoint } from "../../dev/neon";
import type { BackendName } from "./backends";
import { startTestEndpoint } from "./endpoint";

export type Sql = NeonQueryFunction<false, false>;

/** Signs as the worker does, with the local identity key the test databases are migrated with. */
export const TEST_SIGNER = identitySigner(LOCAL.identityKey);

export interface TestDb {
  backend: BackendName;
  database: string;
  endpoint: NeonEndpoint;
  ownerUrl: string;
  appUrl: string;
  /** neon() HTTP as the app role. */
  app: Sql;
  /** The app role's queries in one HTTP transaction, identity first; returns their rows. */
  as(auth: Auth | null, queries: (sql: Sql) => NeonQueryPromise<false, false>[]): Promise<unknown[][]>;
  /** An owner connection over WebSocket (release it). */
  owner(): Promise<PoolClient>;
  /** `fn` on an owner connection, released afterwards (no transaction, no identity). */
  withOwner<T>(fn: (c: PoolClient) => Promise<T>): Promise<T>;
  /** Owner work under the 'system' identity in one transaction. */
  system<T>(fn: (c: PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function startTestDb(backend: BackendName, name: string): Promise<TestDb> {
  const t = await startTestEndpoint(backend, { prefix: `fisioflow_${name}`, migrate: true });
  const { endpoint, database, ownerUrl, appUrl } = t;
  const owner = ownerSessions(ownerUrl);
  const app: Sql = neon(appUrl);

  return {
    backend,
    database,
    endpoint,
    ownerUrl,
    appUrl,
    app,
    async as(auth, queries) {
      // The app's own path (db/session.ts): identity first, in the same HTTP transaction.
      if (auth) return (await withAuth(app, { auth, signer: TEST_SIGNER }, queries)) as unknown[][];
      return (await app.transaction(queries(app))) as unknown[][];
    },
    owner: owner.connect,
    withOwner: owner.withOwner,
    system: owner.system,
    async close() {
      await owner.end();
      await t.close();
    },
  };
}

export interface OwnerSessions {
  connect(): Promise<PoolClient>;
  /** `fn` on an owner connection, released afterwards (no transaction, no identity). */
  withOwner<T>(fn: (c: PoolClient) => Promise<T>): Promise<T>;
  /** Owner work under the 'system' identity in one transaction. */
  system<T>(fn: (c: PoolClient) => Promise<T>): Promise<T>;
  end(): Promise<void>;
}

/** Owner connections over WebSocket (a small Pool) for fixtures and checks. */
export function ownerSessions(ownerUrl: string): OwnerSessions {
  const pool = new Pool({ connectionString: ownerUrl, max: 4 });
  const withOwner = async <T>(fn: (c: PoolClient) => Promise<T>): Promise<T> => {
    const c = await pool.connect();
    try {
      return await fn(c);
    } finally {
      c.release();
    }
  };
  return {
    connect: () => pool.connect(),
    withOwner,
    system: (fn) =>
      withOwner(async (c) => {
        await c.query("BEGIN");
        try {
          await c.query(SYSTEM_SQL);
          const out = await fn(c);
          await c.query("COMMIT");
          return out;
        } catch (err) {
          await c.query("ROLLBACK").catch(() => {});
          throw err;
        }
      }),
    end: () => pool.end().catch(() => {}),
  };
}

/** Basic fixture: two fisioterapeutas, each with one paciente; returns their ids. */
export interface Fixture {
  fisioA: string;
  fisioB: string;
  pacA: string;
  pacB: string;
}

export async function createFixture(db: Pick<OwnerSessions, "system">, suffix = ""): Promise<Fixture> {
  const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()] as const;
  const [fisioA, fisioB, pacA, pacB] = ids;
  await db.system(async (c) => {
    await c.query(
      `INSERT INTO fisioterapeutas (id, nome, email, crefito) VALUES
         ($1, 'Ana Souza', $3, 'CREFITO-3/1-F'), ($2, 'Bruno Lima', $4, 'CREFITO-3/2-F')`,
      [fisioA, fisioB, `ana${suffix}.${fisioA}@x.br`, `bruno${suffix}.${fisioB}@x.br`],
    );
    await c.query(
      `INSERT INTO pacientes (id, nome, email, fisioterapeuta_id) VALUES
         ($1, 'Carla Dias', $3, $5), ($2, 'Davi Rocha', $4, $6)`,
      [pacA, pacB, `carla.${pacA}@x.br`, `davi.${pacB}@x.br`, fisioA, fisioB],
    );
  });
  return { fisioA, fisioB, pacA, pacB };
}
