import { z } from "zod";
import { nameTime, timeName } from "../backups/retention";

/**
 * Where an export lives in the bucket and what its manifest says. An export is a folder
 * `exports/<id>/` named for its UTC time (`2026-11-29T04-00-00Z`, like backup branches): one
 * encrypted object per table and, written last, the encrypted manifest. An export without a
 * manifest is incomplete (a run that failed or is still going): never restored, and removed by
 * retention once its last object is a day old.
 */

export const EXPORTS_PREFIX = "exports/";
export const EXPORT_FORMAT = "fisioflow-export/1";

/** An export's id: its slot as a name (the backup branches' form, without their prefix). */
export const exportId = timeName;
/** The time an export id was named for, or null for anything else. */
export const exportTime = nameTime;

export const manifestKey = (id: string) => `${EXPORTS_PREFIX}${id}/manifest.enc`;
export const tableKey = (id: string, schema: string, table: string) =>
  `${EXPORTS_PREFIX}${id}/tables/${schema}.${table}.copy.gz.enc`;

export const ManifestTable = z.object({
  schema: z.string(),
  table: z.string(),
  /** The columns of the COPY, in order (generated columns are recomputed on load). */
  columns: z.array(z.string()).min(1),
  primary_key: z.array(z.string()).min(1),
  primary_key_types: z.array(z.string()).min(1),
  /** Partitions of a partitioned table (name and bound), so a restore can create missing ones. */
  partitions: z.array(z.object({ schema: z.string(), name: z.string(), bound: z.string() })),
  rows: z.number().int().min(0),
  /** SHA-256 (hex) of the table's COPY text output in primary-key order, before compression. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  plain_bytes: z.number().int().min(0),
  object: z.string(),
  object_bytes: z.number().int().min(0),
});
export type ManifestTable = z.infer<typeof ManifestTable>;

export const Manifest = z.object({
  format: z.literal(EXPORT_FORMAT),
  id: z.string(),
  started_at: z.string(),
  finished_at: z.string(),
  /** The last migration applied to the source (ops._migrations): a restore migrates to it. */
  schema_version: z.string(),
  key_id: z.string(),
  /** The session settings the COPY text was produced under (the restore checks under the same). */
  settings: z.record(z.string(), z.string()),
  /** In load order: referenced tables before the tables that reference them. */
  tables: z.array(ManifestTable),
});
export type Manifest = z.infer<typeof Manifest>;

/** Set in the export's session and the restore's: COPY text is then the same bytes on both. */
export const COPY_SETTINGS: Record<string, string> = {
  TimeZone: "UTC",
  DateStyle: "ISO, YMD",
  IntervalStyle: "postgres",
  extra_float_digits: "3",
  bytea_output: "hex",
  standard_conforming_strings: "on",
};

export const setCopySettingsSql = (settings: Record<string, string> = COPY_SETTINGS) =>
  Object.entries(settings)
    .map(([k, v]) => `SELECT set_config('${k}', '${v.replace(/'/g, "''")}', true);`)
    .join("\n");
