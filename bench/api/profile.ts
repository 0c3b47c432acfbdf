/**
 * `npx tsx bench/api/profile.ts <file.cpuprofile> [--top N]`: where a server's CPU went, from a V8
 * CPU profile (BENCH_CPU_PROFILE of bench/api/run.ts, or `node --cpu-prof`): self time by package
 * (node_modules/<name>), by our own top-level folder, by Node's internals, and the top functions.
 */
import { readFileSync } from "node:fs";
import process from "node:process";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

export function ownerOfUrl(url: string): string {
  if (!url) return "(V8: program, gc, builtins)";
  // Node's fetch() is undici, compiled into node:internal/deps/undici.
  if (url.startsWith("node:internal/deps/undici")) return "node:undici (fetch)";
  if (url.startsWith("node:internal/deps/"))
    return `node:${url.slice("node:internal/deps/".length).split("/")[0]}`;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const path = decodeURIComponent(url.replace(/^file:\/\//, ""));
  const i = path.lastIndexOf("node_modules/");
  if (i >= 0) {
    const parts = path.slice(i + "node_modules/".length).split("/");
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const rel = path.startsWith(process.cwd()) ? path.slice(process.cwd().length + 1) : path;
  return rel.split("/")[0] ?? rel;
}

export function summarize(profile: Profile, top = 15) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const owners = new Map<string, number>();
  const fns = new Map<string, number>();
  let idle = 0;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const f = byId.get(id)!.callFrame;
    if (f.functionName === "(idle)") {
      idle += dt;
      return;
    }
    total += dt;
    const o = ownerOfUrl(f.url);
    owners.set(o, (owners.get(o) ?? 0) + dt);
    const fn = `${f.functionName || "(anonymous)"} ${o}`;
    fns.set(fn, (fns.get(fn) ?? 0) + dt);
  });
  const sorted = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: Math.round((ms / total) * 1000) / 10 }));
  return {
    activeMs: Math.round(total),
    idleMs: Math.round(idle),
    byOwner: sorted(owners),
    topFunctions: sorted(fns),
  };
}

if (process.argv[1]?.endsWith("profile.ts")) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: tsx bench/api/profile.ts <file.cpuprofile> [--top N]");
    process.exit(2);
  }
  const i = process.argv.indexOf("--top");
  const s = summarize(
    JSON.parse(readFileSync(file, "utf8")) as Profile,
    i > 0 ? Number(process.argv[i + 1]) : 15,
  );
  console.log(`active ${s.activeMs} ms, idle ${s.idleMs} ms`);
  console.log("\nself time by package / folder:");
  for (const o of s.byOwner)
    console.log(`  ${String(o.ms).padStart(7)} ms  ${String(o.share).padStart(5)}%  ${o.name}`);
  console.log("\ntop functions (self):");
  for (const o of s.topFunctions)
    console.log(`  ${String(o.ms).padStart(7)} ms  ${String(o.share).padStart(5)}%  ${o.name}`);
}
