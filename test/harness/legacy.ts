/**
 * A throw-away legacy source database (db/legacy) on the machine's PostgreSQL for the migration
 * tests: created fresh (a leftover of a crashed run is dropped first), optionally with the legacy
 * schema, and dropped by `close`.
 */
import pg from "pg";
import { installLegacySchema } from "../../db/legacy/generate";
import {
  type SqlClient,
  type SyncOptions,
  type SyncToHorizonResult,
  syncToHorizon,
} from "../../db/migration/sync";
import { MIGRATED_TABLES } from "../../db/migration/tables";
import { dropDatabase, postgresAdminUrl } from "./backends";

export interface LegacyDatabase {
  name: string;
  url: string;
  /** A connection to it (the superuser, as the tests' source). */
  client: pg.Client;
  close(): Promise<void>;
}

export function databaseUrl(name: string): string {
  const u = new URL(postgresAdminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createLegacyDatabase(
  name: string,
  opts: { install?: boolean } = {},
): Promise<LegacyDatabase> {
  const admin = new pg.Client({ connectionString: postgresAdminUrl() });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  if (opts.install ?? true) await installLegacySchema(client);
  return {
    name,
    url,
    client,
    async close() {
      await client.end().catch(() => {});
      await dropDatabase(name);
    },
  };
}

/** Syncs every table, parents first, until each is caught up; a row still waiting is an error. */
export async function syncAllTables(
  source: SqlClient,
  target: SqlClient,
  opts: SyncOptions = {},
): Promise<SyncToHorizonResult[]> {
  const out: SyncToHorizonResult[] = [];
  for (const table of MIGRATED_TABLES) {
    const r = await syncToHorizon(source, target, table, { horizonMarginMs: 0, ...opts });
    if (r.outcome !== "caught-up") throw new Error(`${table}: ${r.outcome}`);
    out.push(r);
  }
  return out;
}
