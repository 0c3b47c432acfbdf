/**
 * `npm run bundle:check`: builds the worker as `wrangler deploy` would (dry run, offline, with the
 * minify setting of wrangler.toml), reports its size raw and gzipped and what takes the room (by
 * package, from esbuild's metafile), profiles the isolate's start (`wrangler check startup` on
 * that very bundle: workerd evaluates the script's global scope under the inspector) with the
 * startup time attributed to packages through the bundle's source map, writes
 * bench/results/bundle.{json,md}, and fails when the gzipped bundle is over the budget or the
 * worker does not start. CI runs it, so the API cannot outgrow the budget unnoticed.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
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

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

export interface StartupProfile {
  /** sampled CPU time of the startup window, idle excluded (ms) */
  active_ms: number;
  gc_ms: number;
  idle_ms: number;
  /**
   * Active time by package or folder: each sample goes to the nearest frame of the bundle on its
   * stack (so the runtime's own node:* code a package calls counts as that package's), else to
   * "(runtime)".
   */
  by_owner: { name: string; ms: number; share: number }[];
}

/** Attributes a V8 CPU profile of the bundle's start to packages, through the bundle's source map. */
export function attributeStartup(
  profile: CpuProfile,
  map: SourceMap,
  bundleUrl: (url: string) => boolean,
  /** the map's `sources` are relative to the map file: a source → a path from the project root */
  fromRoot: (source: string) => string,
) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownerCache = new Map<number, string>();
  const ownerOf = (id: number): string => {
    const cached = ownerCache.get(id);
    if (cached) return cached;
    let result = "(runtime)";
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (!bundleUrl(f.url)) continue;
      if (f.lineNumber < 0) {
        // The script's own frame: esbuild inlines every module's top-level code into it.
        result = "(modules' top-level code, all packages)";
        break;
      }
      const entry = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string };
      result = entry.originalSource ? owner(fromRoot(entry.originalSource)) : "(bundler helpers, unmapped)";
      break;
    }
    ownerCache.set(id, result);
    return result;
  };
  let idle = 0;
  let gc = 0;
  const ms = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time before sample i: sample i ran until the next one.
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const name = byId.get(id)!.callFrame.functionName;
    if (name === "(idle)") idle += dt;
    else {
      if (name === "(garbage collector)") gc += dt;
      const o = name === "(garbage collector)" ? "(garbage collector)" : ownerOf(id);
      ms.set(o, (ms.get(o) ?? 0) + dt);
    }
  });
  const active = [...ms.values()].reduce((a, b) => a + b, 0);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    active_ms: round(active),
    gc_ms: round(gc),
    idle_ms: round(idle),
    by_owner: [...ms]
      .sort((a, b) => b[1] - a[1])
      .map(([name, t]) => ({ name, ms: round(t), share: t / Math.max(active, 1e-9) })),
  } satisfies StartupProfile;
}

/** `wrangler check startup` on the built bundle; its profile attributed through the source map. */
function profileStartup(dir: string): StartupProfile {
  const outfile = join(dir, "startup.cpuprofile");
  execFileSync(
    process.execPath,
    [
      "node_modules/wrangler/bin/wrangler.js",
      "check",
      "startup",
      "--worker",
      join(dir, "worker.bundle"),
      "--outfile",
      outfile,
    ],
    {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      timeout: 120_000,
    },
  );
  const profile = JSON.parse(readFileSync(outfile, "utf8")) as CpuProfile;
  const map = new SourceMap(JSON.parse(readFileSync(join(dir, "index.js.map"), "utf8")));
  return attributeStartup(
    profile,
    map,
    (url) => url.endsWith("index.js"),
    (source) => relative(process.cwd(), resolve(dir, source)),
  );
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
        // index.js.map beside it, for the startup profile (the code itself is the same), and the
        // upload form `wrangler check startup --worker` takes.
        "--upload-source-maps",
        "--outfile",
        join(dir, "worker.bundle"),
      ],
      { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
    );
    // Without the trailing sourceMappingURL comment that --upload-source-maps adds.
    const code = Buffer.from(
      readFileSync(join(dir, "index.js"), "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n"),
    );
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
      startup: profileStartup(dir),
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
      "## Isolate start",
      "",
      `**${result.startup.active_ms} ms** of CPU to evaluate the worker's global scope (${result.startup.gc_ms} ms of it garbage collection), ` +
        "sampled by `wrangler check startup` on this bundle in local workerd (this machine's CPU, not Cloudflare's; " +
        "Cloudflare refuses to deploy a Worker whose startup exceeds its startup-time limit, see the Workers limits page). " +
        "Each sample is charged to the nearest bundle frame on its stack, mapped to its package with the source map.",
      "",
      "| package or folder | ms | share |",
      "| --- | --- | --- |",
      ...result.startup.by_owner
        .slice(0, 12)
        .map((o) => `| ${o.name} | ${o.ms} | ${(o.share * 100).toFixed(1)}% |`),
      "",
    ].join("\n");
    if (arg("write") !== "false") {
      writeFileSync("bench/results/bundle.json", `${JSON.stringify(result, null, 2)}\n`);
      writeFileSync("bench/results/bundle.md", md);
    }
    console.log(`worker bundle: ${kb(gzip)} gzip (${kb(code.length)} raw), budget ${kb(BUDGET_GZIP_BYTES)}`);
    for (const p of parts.slice(0, 6)) console.log(`  ${kb(p.bytes).padStart(9)}  ${p.name}`);
    console.log(`isolate start: ${result.startup.active_ms} ms CPU (local workerd)`);
    for (const o of result.startup.by_owner.slice(0, 6))
      console.log(`  ${`${o.ms} ms`.padStart(9)}  ${o.name}`);
    if (!result.within_budget) {
      console.error(`bundle:check: ${kb(gzip)} gzip is over the ${kb(BUDGET_GZIP_BYTES)} budget`);
      process.exit(1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
