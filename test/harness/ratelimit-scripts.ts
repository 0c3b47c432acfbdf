/**
 * The Lua scripts of the installed @upstash/ratelimit, read from its bundle (they are not
 * exported). Tests use them to check that the emulator knows every script by the SHA1 of its text
 * (and that this is the SHA1 ratelimit ships, where it ships one) and to drive EVAL/EVALSHA with
 * real script text.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

export interface RatelimitScript {
  name: string;
  script: string;
  /**
   * The SHA1 ratelimit ships with the script (it calls EVALSHA with it first), or null when it
   * ships none: the deny-list check always goes through EVAL with the script text.
   */
  hash: string | null;
}

/** A script ratelimit ships with its SHA1 (all but the deny-list check). */
export type ShippedRatelimitScript = RatelimitScript & { hash: string };

export async function ratelimitScripts(): Promise<RatelimitScript[]> {
  const require = createRequire(import.meta.url);
  const entry = require.resolve("@upstash/ratelimit");
  const src = fs.readFileSync(path.join(path.dirname(entry), "index.mjs"), "utf8");
  const start = src.indexOf("// src/lua-scripts/single.ts");
  const end = src.indexOf("// src/types.ts");
  const deny = /var checkDenyListScript = `([\s\S]*?)`;/.exec(src);
  if (start < 0 || end < 0 || !deny)
    throw new Error("@upstash/ratelimit bundle layout changed: update this reader");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rl-scripts-")), "scripts.mjs");
  fs.writeFileSync(file, `${src.slice(start, end)}\nexport { SCRIPTS, RESET_SCRIPT };\n`);
  const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as {
    SCRIPTS: Record<string, Record<string, Record<string, { script: string; hash: string }>>>;
    RESET_SCRIPT: { script: string; hash: string };
  };
  const out: RatelimitScript[] = [];
  for (const [region, algos] of Object.entries(mod.SCRIPTS))
    for (const [algo, kinds] of Object.entries(algos))
      for (const [kind, s] of Object.entries(kinds)) out.push({ name: `${region}.${algo}.${kind}`, ...s });
  out.push({ name: "reset", ...mod.RESET_SCRIPT });
  out.push({ name: "denyList", script: deny[1]!, hash: null });
  return out;
}
