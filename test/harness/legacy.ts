/**
 * A throw-away legacy source database (db/legacy) on the machine's PostgreSQL for the migration
 * tests: created fresh (a leftover of a crashed run is dropped first), optionally with the legacy
 * schema, and dropped by `close`.
 */
import pg from "pg";
import { installLegacySchema } from "../../db/legacy/generate";
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
