/**
 * `npm run bundle:check`: builds the worker as `wrangler deploy` would (dry run, offline, with the
 * minify setting of wrangler.toml), reports its size raw and gzipped and what takes the room (by
 * package, from esbuild's metafile), writes bench/results/bundle.{json,md}, and fails when the
 * gzipped bundle is over the budget. CI runs it, so the API cannot outgrow the budget unnoticed.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { arg, run } from "./lib/cli";

/** Gzipped bytes the worker may take (Workers' free plan allows 3 MiB; cold starts grow with size). */
const BUDGET_GZIP_BYTES = 400 * 1024;

interface Meta {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/** node_modules/@scope/name/... → @scope/name; our own files → their top-level folder. */
function owner(path: string): string {
  const i = path.lastIndexOf("node_modules/");
  if (i < 0) return path.replace(/^(\.\.\/)+/, "").split("/")[0]!;
  const parts = path.slice(i + "node_modules/".length).split("/");
  return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

run("bundle:check", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fisioflow-bundle-"));
  try {
    execFileSync(
      process.execPath,
      [
        "node_modules/wrangler/bin/wrangler.js",
        "deploy",
        "--dry-run",
        "--outdir",
        dir,
        "--metafile",
        join(dir, "meta.json"),
      ],
      { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
    );
    const code = readFileSync(join(dir, "index.js"));
    const gzip = gzipSync(code).length;
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as Meta;
    const output = Object.entries(meta.outputs).find(([name]) => name.endsWith("index.js"))![1];
    const byOwner = new Map<string, number>();
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      byOwner.set(owner(path), (byOwner.get(owner(path)) ?? 0) + bytesInOutput);
    }
    const total = [...byOwner.values()].reduce((a, b) => a + b, 0);
    const parts = [...byOwner]
      .sort((a, b) => b[1] - a[1])
      .map(([name, bytes]) => ({ name, bytes, share: bytes / total }));
    const result = {
      measured_at: new Date().toISOString(),
      raw_bytes: code.length,
      gzip_bytes: gzip,
      budget_gzip_bytes: BUDGET_GZIP_BYTES,
      within_budget: gzip <= BUDGET_GZIP_BYTES,
      parts,
    };
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    const md = [
      "# Worker bundle",
      "",
      `Built with \`wrangler deploy --dry-run\` (wrangler.toml settings), ${result.measured_at}.`,
      "",
      `**${kb(gzip)} gzip** (${kb(code.length)} raw); budget ${kb(BUDGET_GZIP_BYTES)} gzip: ${result.within_budget ? "within" : "OVER"}.`,
      "",
      "| package or folder | minified bytes | share |",
      "| --- | --- | --- |",
      ...parts.slice(0, 15).map((p) => `| ${p.name} | ${kb(p.bytes)} | ${(p.share * 100).toFixed(1)}% |`),
      "",
    ].join("\n");
    if (arg("write") !== "false") {
      writeFileSync("bench/results/bundle.json", `${JSON.stringify(result, null, 2)}\n`);
      writeFileSync("bench/results/bundle.md", md);
    }
    console.log(`worker bundle: ${kb(gzip)} gzip (${kb(code.length)} raw), budget ${kb(BUDGET_GZIP_BYTES)}`);
    for (const p of parts.slice(0, 6)) console.log(`  ${kb(p.bytes).padStart(9)}  ${p.name}`);
    if (!result.within_budget) {
      console.error(`bundle:check: ${kb(gzip)} gzip is over the ${kb(BUDGET_GZIP_BYTES)} budget`);
      process.exit(1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
