/**
 * `npm run export:restore -- --export <id> --target <owner url of an empty database> [--dir <path>]`
 * restores an encrypted export (jobs/exports) and verifies every table against its manifest;
 * `npm run export:restore -- --list [--dir <path>]` lists the exports.
 *
 * Where the export is read: by default the local R2 that `npm run dev` (wrangler dev) persists
 * under .wrangler/state; with --dir, a directory holding the export's objects by key (download a
 * production export with `npx wrangler r2 object get fisioflow-files/<key> --remote --file ...`
 * or any S3 client pointed at R2). The key comes from EXPORT_KEY / EXPORT_KEY_ID, the identity key
 * installed in the restored database from DB_IDENTITY_KEY / DB_IDENTITY_KEY_ID; unset, the local
 * cloud's values (.dev.vars.example, .dev.vars).
 */
import { getPlatformProxy } from "wrangler";
import { keyLookup, parseExportKey } from "../jobs/exports/crypto";
import { directoryBucket } from "../jobs/exports/dir-bucket";
import { listExports } from "../jobs/exports/list";
import { restoreExport } from "../jobs/exports/restore";
import { type FileBucket, filesBucket } from "../jobs/storage/bucket";
import { arg, run } from "./lib/cli";
import { loadDevVars } from "./lib/vars";

const USAGE =
  "usage: npm run export:restore -- --export <id> --target <postgresql:// owner url of an empty database> [--dir <path>]\n" +
  "       npm run export:restore -- --list [--dir <path>]";
const FLAGS = new Set(["--export", "--target", "--dir", "--list"]);

run("export:restore", async () => {
  const unknown = process.argv.slice(2).filter((a) => a.startsWith("--") && !FLAGS.has(a));
  const list = process.argv.includes("--list");
  const id = arg("export");
  const target = arg("target");
  if (unknown.length || (!list && (!id || !target || !/^postgres(ql)?:\/\//.test(target)))) {
    console.error(
      `${unknown.length ? `unknown flag ${unknown.join(", ")}` : "--export and a postgresql:// --target are required"}\n${USAGE}`,
    );
    process.exit(2);
  }
  const vars = { ...loadDevVars(), ...process.env } as Record<string, string | undefined>;
  const key = vars.EXPORT_KEY ? parseExportKey(vars.EXPORT_KEY_ID ?? "k1", vars.EXPORT_KEY) : null;
  const keys = keyLookup(key);

  const dir = arg("dir");
  let bucket: FileBucket;
  let close = async () => {};
  if (dir) bucket = directoryBucket(dir);
  else {
    const proxy = await getPlatformProxy<Record<string, unknown>>({ configPath: "wrangler.toml" });
    const b = filesBucket(proxy.env);
    if (!b) throw new Error("wrangler.toml binds no R2 bucket as FILES");
    bucket = b;
    close = () => proxy.dispose();
    console.error("reading the local R2 bucket under .wrangler/state (npm run dev's)");
  }
  try {
    if (list) {
      if (dir) throw new Error("--list reads the local R2 bucket; list a directory with ls");
      for (const e of await listExports(bucket, keys))
        console.log(
          `${e.id}  ${e.status.padEnd(10)} key ${e.key_id ?? "-"}  ${e.objects} objects, ${e.bytes} bytes` +
            (e.manifest
              ? `, ${e.manifest.tables} tables, ${e.manifest.rows} rows, schema ${e.manifest.schema_version}`
              : ""),
        );
      return;
    }
    if (!key) throw new Error("EXPORT_KEY is not set: the export cannot be decrypted without it");
    const identityKey = {
      kid: vars.DB_IDENTITY_KEY_ID ?? "k1",
      secret: vars.DB_IDENTITY_KEY ?? "",
    };
    if (identityKey.secret.length < 32)
      throw new Error("DB_IDENTITY_KEY is not set (at least 32 characters)");
    const report = await restoreExport({
      bucket,
      id: id!,
      keys,
      targetUrl: target!,
      identityKey,
      log: (line) => console.error(line),
    });
    const rows = report.tables.reduce((n, t) => n + t.rows, 0);
    console.log(
      `restored export ${report.manifest.id}: ${report.tables.length} tables, ${rows} rows, every count and checksum equal to the manifest`,
    );
  } finally {
    await close();
  }
});
