import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

/** Parses a dotenv-style file (KEY=value, # comments, optional quotes). */
export function parseVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 1) continue;
    let value = line.slice(eq + 1).trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    out[line.slice(0, eq).trim()] = value;
  }
  return out;
}

/** .dev.vars.example overlaid by .dev.vars (if present): the local configuration. */
export function loadDevVars(root = process.cwd()): Record<string, string> {
  const read = (f: string) =>
    existsSync(resolve(root, f)) ? parseVars(readFileSync(resolve(root, f), "utf8")) : {};
  return { ...read(".dev.vars.example"), ...read(".dev.vars") };
}
