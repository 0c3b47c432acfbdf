/**
 * The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per family,
 * then its samples, every family's lines together; label values escaped (\\, \", \n), HELP text
 * escaped (\\, \n); label names made valid ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __).
 */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Record<string, string>;

export interface Family {
  name: string;
  help: string;
  type: "gauge" | "counter" | "histogram" | "untyped";
  samples: { suffix?: string; labels?: Labels; value: number }[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A label name Prometheus accepts: invalid characters become _, a leading digit or __ gets a prefix. */
export function labelName(k: string): string {
  let n = k.replace(/[^a-zA-Z0-9_]/g, "_");
  if (n === "" || /^[0-9]/.test(n)) n = `_${n}`;
  if (n.startsWith("__")) n = `label${n}`;
  return n;
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

function labelSet(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => `${labelName(k)}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** The exposition of `families`, in their order (each family's name must be unique and valid). */
export function encode(families: readonly Family[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`invalid metric name ${JSON.stringify(f.name)}`);
    if (seen.has(f.name)) throw new Error(`metric family ${f.name} given twice`);
    seen.add(f.name);
    // HELP is optional; an empty one is left out (some parsers refuse `# HELP name` alone), and
    // blanks around it are dropped (parsers disagree on keeping them).
    const help = f.help.trim();
    if (help) lines.push(`# HELP ${f.name} ${escapeHelp(help)}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples)
      lines.push(`${f.name}${s.suffix ?? ""}${labelSet(s.labels)} ${formatValue(s.value)}`);
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/**
 * Labels as stored in analytics.metricas (a jsonb object, values normally strings) → valid,
 * de-duplicated label names with string values.
 */
export function labelsFromJson(rotulos: unknown): Labels {
  const out: Labels = {};
  if (!rotulos || typeof rotulos !== "object" || Array.isArray(rotulos)) return out;
  for (const [k, v] of Object.entries(rotulos as Record<string, unknown>)) {
    const base = labelName(k);
    let name = base;
    for (let i = 2; name in out; i++) name = labelName(`${base}_${i}`);
    out[name] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}
