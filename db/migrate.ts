/**
 * Applies db/migrations/*.sql in name order, each file in its own transaction, recording
 * name + sha256 in ops._migrations. Safe to run twice (applied files are skipped), refuses an
 * applied file whose content changed, and holds an advisory lock so concurrent runs serialize
 * (the second one then finds everything applied).
 *
 * Then it runs partition upkeep (db/partitions.ts): a database that was just migrated has the
 * consultas partitions of the current month and the next PARTITION_MONTHS_AHEAD, so no consulta
 * lands in DEFAULT while it waits for the daily job.
 *
 * Any URL works: through @neondatabase/serverless' Pool over WebSocket for Neon or the local
 * endpoint (auto-detected: *.neon.tech host, or the driver routed locally by db/neon-config; the
 * CLI, scripts/migrate.ts, does that from NEON_WS_PROXY), else through `pg`. The runner only
 * needs client.query(text).
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type IdentityKey, installIdentityKey } from "./identity";
import { openClient } from "./owner-client";
import { type EnsurePartitionsReport, ensurePartitions } from "./partitions";

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "migrations");

/** Arbitrary but fixed: hashtext('fisioflow:migrate') would differ across builds of hashtext. */
const LOCK_KEY = 7_246_301_011;

export interface MigrateOptions {
  log?: (line: string) => void;
  /** true: @neondatabase/serverless Pool over WebSocket (neonConfig must be set); false: pg;
   * undefined: auto (Neon when the host is *.neon.tech or neonConfig.wsProxy is set). */
  neon?: boolean;
  dir?: string;
  /** Partition upkeep after the files: options for it, or false to leave it to the caller. */
  partitions?: { monthsAhead?: number; now?: Date } | false;
  /**
   * The API's identity key (the worker's DB_IDENTITY_KEY / DB_IDENTITY_KEY_ID), installed after
   * the files so the database verifies what the worker signs (db/identity.ts). Installing it
   * again replaces it; absent, the installed keys are left as they are.
   */
  identityKey?: IdentityKey;
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
  /** What partition upkeep did (null when `partitions: false`). */
  partitions: EnsurePartitionsReport | null;
}

/** Migrations were applied, but some consultas partitions could not be created. */
export class PartitionUpkeepError extends Error {
  constructor(readonly report: EnsurePartitionsReport) {
    const failed = report.failed.map((f) => `${f.name}: ${f.code ?? "error"} ${f.error}`).join("; ");
    super(
      `migrations are applied, but partition upkeep failed for ${failed}; run db:migrate again` +
        (report.failed.some((f) => f.transient) ? " (the failure is transient: a lock or connection)" : ""),
    );
    this.name = "PartitionUpkeepError";
  }
}

export class MigrationChecksumError extends Error {
  constructor(
    readonly migration: string,
    readonly recorded: string,
    readonly current: string,
  ) {
    super(
      `migration ${migration} was changed after it was applied (recorded sha256 ${recorded.slice(0, 12)}…, ` +
        `file now ${current.slice(0, 12)}…); write a new migration instead of editing an applied one`,
    );
    this.name = "MigrationChecksumError";
  }
}

export async function listMigrations(
  dir = MIGRATIONS_DIR,
): Promise<{ name: string; sql: string; checksum: string }[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

export async function migrate(url: string, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const log = opts.log ?? (() => {});
  const files = await listMigrations(opts.dir);
  const { client, close } = await openClient(url, opts.neon);
  const applied: string[] = [];
  const skipped: string[] = [];
  let partitions: EnsurePartitionsReport | null = null;
  try {
    // Session-level lock: held across the per-file transactions, released in finally.
    await client.query(`SELECT pg_advisory_lock(${LOCK_KEY})`);
    try {
      await client.query(
        `CREATE SCHEMA IF NOT EXISTS ops;
         CREATE TABLE IF NOT EXISTS ops._migrations (
           name text PRIMARY KEY,
           checksum text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         );
         REVOKE ALL ON SCHEMA ops FROM PUBLIC;`,
      );
      const { rows } = await client.query("SELECT name, checksum FROM ops._migrations");
      const done = new Map(rows.map((r) => [String(r.name), String(r.checksum)]));
      for (const file of files) {
        const recorded = done.get(file.name);
        if (recorded !== undefined) {
          if (recorded !== file.checksum)
            throw new MigrationChecksumError(file.name, recorded, file.checksum);
          skipped.push(file.name);
          continue;
        }
        const started = Date.now();
        await client.query("BEGIN");
        try {
          // The whole file in one simple-protocol round trip; drizzle's breakpoints are comments.
          await client.query(file.sql);
          await client.query("INSERT INTO ops._migrations (name, checksum) VALUES ($1, $2)", [
            file.name,
            file.checksum,
          ]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => {});
          const e = err as Error;
          e.message = `migration ${file.name} failed: ${e.message}`;
          throw e;
        }
        applied.push(file.name);
        log(`applied ${file.name} (${Date.now() - started} ms)`);
      }
      for (const name of done.keys()) {
        if (!files.some((f) => f.name === name))
          log(`warning: ${name} is recorded as applied but has no file`);
      }
      if (opts.identityKey) {
        await installIdentityKey(client, opts.identityKey);
        log(`identity key ${opts.identityKey.kid} installed`);
      }
      if (opts.partitions !== false) {
        // Its own advisory lock and one transaction per month; idempotent, so every run does it.
        partitions = await ensurePartitions(client, {
          ...opts.partitions,
          log: (l) => log(`partitions: ${l}`),
        });
        log(
          `partitions: ${partitions.created.length} created, every month covered until ${partitions.coverageUntil}`,
        );
        if (partitions.failed.length > 0) throw new PartitionUpkeepError(partitions);
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`).catch(() => {});
    }
  } finally {
    await close();
  }
  return { applied, skipped, partitions };
}
