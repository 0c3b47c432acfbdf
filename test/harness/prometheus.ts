/**
 * Checks of a Prometheus text exposition (format 0.0.4) for the /metrics tests:
 * - `parsePrometheus`: parse-prometheus-text-format (throws on a line it cannot read);
 * - `strictExpositionErrors`: what that lenient parser lets through but Prometheus' own parser
 *   (and `promtool check metrics`) refuses: a sample before its TYPE, a family split in two,
 *   a TYPE given twice, bad names or values, duplicate series, histogram buckets that decrease
 *   or lack +Inf = _count, no final newline;
 * - `promtoolCheck`: `promtool check metrics` when promtool is on PATH, else null with a message
 *   (it is optional: CI does not install Prometheus).
 */
import { spawnSync } from "node:child_process";
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";

export function parsePrometheus(text: string): ParsedFamily[] {
  return parsePrometheusTextFormat(text);
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

interface Sample {
  name: string;
  labels: [string, string][];
  value: string;
}

/** One sample line → its parts, or a reason it is malformed. */
function sampleLine(line: string): Sample | string {
  const m = /^([^\s{]+)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/.exec(line);
  if (!m) return "not a sample line";
  const labels: [string, string][] = [];
  let rest = m[3] ?? "";
  while (rest.length) {
    const l = /^([^=\s]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (!l) return `bad label set {${m[3]}}`;
    labels.push([l[1]!, l[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c))]);
    rest = rest.slice(l[0].length);
  }
  return { name: m[1]!, labels, value: m[4]! };
}

export function strictExpositionErrors(text: string): string[] {
  const errors: string[] = [];
  if (text.length && !text.endsWith("\n")) errors.push("does not end with a newline");
  const types = new Map<string, string>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | null = null;
  const histograms = new Map<string, { le: number; n: number }[]>();
  const counts = new Map<string, number>();
  const familyOf = (name: string) => {
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && ["histogram", "summary"].includes(types.get(base) ?? "")) return base;
    }
    return name;
  };
  const enter = (family: string, at: number) => {
    if (family === current) return;
    if (closed.has(family)) errors.push(`line ${at}: family ${family} appears again after others`);
    if (current) closed.add(current);
    current = family;
  };
  text.split("\n").forEach((line, i) => {
    const at = i + 1;
    if (line === "") return;
    if (line.startsWith("#")) {
      const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!meta) return; // a plain comment
      const [, kind, name, rest = ""] = meta;
      if (!NAME.test(name!)) errors.push(`line ${at}: bad metric name ${name}`);
      enter(name!, at);
      if (kind === "TYPE") {
        if (types.has(name!)) errors.push(`line ${at}: TYPE of ${name} given twice`);
        if (!TYPES.has(rest)) errors.push(`line ${at}: unknown type ${rest}`);
        if ([...series].some((s) => s.startsWith(`${name}{`) || s.startsWith(`${name}_`)))
          errors.push(`line ${at}: TYPE of ${name} after its samples`);
        types.set(name!, rest);
      } else if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ""))) errors.push(`line ${at}: bad escape in HELP`);
      return;
    }
    const s = sampleLine(line);
    if (typeof s === "string") {
      errors.push(`line ${at}: ${s}: ${line}`);
      return;
    }
    if (!NAME.test(s.name)) errors.push(`line ${at}: bad metric name ${s.name}`);
    if (!VALUE.test(s.value)) errors.push(`line ${at}: bad value ${s.value}`);
    const names = s.labels.map(([k]) => k);
    for (const k of names)
      if (!LABEL.test(k) || k.startsWith("__")) errors.push(`line ${at}: bad label name ${k}`);
    if (new Set(names).size !== names.length) errors.push(`line ${at}: a label given twice`);
    const family = familyOf(s.name);
    if (!types.has(family)) errors.push(`line ${at}: sample of ${family} before its TYPE`);
    enter(family, at);
    const key = `${s.name}{${[...s.labels].sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`)}}`;
    if (series.has(key)) errors.push(`line ${at}: series ${key} given twice`);
    series.add(key);
    if (types.get(family) === "histogram") {
      const base = JSON.stringify([family, s.labels.filter(([k]) => k !== "le").sort()]);
      if (s.name.endsWith("_bucket")) {
        const le = s.labels.find(([k]) => k === "le")?.[1];
        if (le === undefined || !VALUE.test(le)) errors.push(`line ${at}: bucket without a valid le`);
        else {
          const list = histograms.get(base) ?? [];
          list.push({ le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), n: Number(s.value) });
          histograms.set(base, list);
        }
      } else if (s.name.endsWith("_count")) counts.set(base, Number(s.value));
    }
  });
  for (const [base, buckets] of histograms) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]!.le > buckets[i - 1]!.le)) errors.push(`${base}: le not increasing`);
      if (buckets[i]!.n < buckets[i - 1]!.n) errors.push(`${base}: bucket counts decrease`);
    }
    const inf = buckets.find((b) => b.le === Number.POSITIVE_INFINITY);
    if (!inf) errors.push(`${base}: no +Inf bucket`);
    else if (counts.get(base) !== inf.n) errors.push(`${base}: +Inf bucket differs from _count`);
  }
  return errors;
}

/** `promtool check metrics` on `text`: its problems (empty: none), or null when promtool is absent. */
export function promtoolCheck(text: string): string[] | null {
  const version = spawnSync("promtool", ["--version"], { encoding: "utf8" });
  if (version.error || version.status !== 0) {
    console.warn("[skip] promtool not on PATH: `promtool check metrics` not run (optional)");
    return null;
  }
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  // Lint findings (e.g. naming advice) are printed but only a parse error fails the status.
  return r.status === 0 ? [] : [`${r.stdout}${r.stderr}`.trim()];
}
