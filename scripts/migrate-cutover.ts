/**
 * `npm run migrate:cutover -- --source <legacy url> --target <owner url> [--slot fisioflow_migracao]
 * [--reopen]`: stops writes on the legacy source (read-only by default, its sessions ended), drains
 * the sync and CDC, verifies every table and prints GO or NO-GO (exit code 0 or 3). `--reopen`
 * only undoes the read-only default on the source (after a no-go).
 */
import pg from "pg";
import { cutover, reopenSource } from "../db/migration/cutover";
import { openClient } from "../db/owner-client";
import { arg, run } from "./lib/cli";
import { configureNeonFromEnv } from "./lib/owner";

const USAGE =
  "usage: npm run migrate:cutover -- --source <legacy postgres url> --target <owner url> [--slot name] [--reopen]";
const FLAGS = new Set(["--source", "--target", "--slot", "--reopen"]);

run("migrate:cutover", async () => {
  const unknown = process.argv.slice(2).filter((a) => a.startsWith("--") && !FLAGS.has(a));
  const sourceUrl = arg("source");
  const targetUrl = arg("target") ?? process.env.DATABASE_OWNER_URL;
  if (unknown.length || !sourceUrl || !/^postgres(ql)?:\/\//.test(sourceUrl)) {
    console.error(
      `${unknown.length ? `unknown flag ${unknown.join(", ")}` : "--source must be a postgresql:// URL"}\n${USAGE}`,
    );
    process.exit(2);
  }
  const source = new pg.Client({ connectionString: sourceUrl, application_name: "fisioflow-cutover" });
  await source.connect();
  try {
    if (process.argv.includes("--reopen")) {
      await reopenSource(source);
      console.log("source writable again for new sessions");
      return;
    }
    if (!targetUrl || !/^postgres(ql)?:\/\//.test(targetUrl)) {
      console.error(`--target (or DATABASE_OWNER_URL) must be a postgresql:// URL\n${USAGE}`);
      process.exit(2);
    }
    const target = await openClient(targetUrl, configureNeonFromEnv(targetUrl));
    try {
      const report = await cutover(source, target.client as never, {
        slot: arg("slot"),
        log: (line) => console.error(line),
      });
      for (const t of report.tables)
        console.log(
          `${t.table.padEnd(16)} ${t.ok ? "equal    " : "DIFFERENT"} source ${t.source.count} rows, target ${t.target.count} rows, ${t.quarantined} in quarantine`,
        );
      for (const q of report.quarantine) console.log(`quarantine ${q.tabela}/${q.motivo}: ${q.n}`);
      if (report.go) console.log(`GO: every table verified equal at WAL position ${report.finalLsn}`);
      else {
        console.log(`NO-GO: ${report.reasons.join("; ")}`);
        console.log(
          "the source stays read-only; `npm run migrate:cutover -- --source <url> --reopen` reopens it",
        );
        process.exitCode = 3;
      }
    } finally {
      await target.close();
    }
  } finally {
    await source.end();
  }
});
