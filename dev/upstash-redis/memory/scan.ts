import type { Reply } from "../reply";
import { err, globMatch, parseInt64, SYNTAX } from "./db";

export interface ScanArgs {
  cursor: number;
  match?: string;
  count: number;
  type?: string;
}

/** The cursor and MATCH / COUNT (/ TYPE for SCAN) options of the SCAN family, as Redis 7.0 parses them. */
export function parseScanArgs(cursorArg: string, opts: string[], allowType = false): ScanArgs {
  const out: ScanArgs = { cursor: parseInt64(cursorArg, "ERR invalid cursor"), count: 10 };
  for (let i = 0; i < opts.length; i += 2) {
    const o = opts[i]!.toUpperCase();
    const v = opts[i + 1];
    if (v === undefined) throw err(SYNTAX);
    if (o === "MATCH") out.match = v;
    else if (o === "COUNT") {
      out.count = parseInt64(v);
      if (out.count < 1) throw err(SYNTAX);
    } else if (allowType && o === "TYPE") out.type = v.toLowerCase();
    else throw err(SYNTAX);
  }
  return out;
}

/** HSCAN / SSCAN / ZSCAN: a position cursor over the container's [member, ...] items. */
export function scanItems(items: string[][], cursorArg: string, opts: string[]): Reply {
  const { cursor, match, count } = parseScanArgs(cursorArg, opts);
  const page = items.slice(cursor, cursor + count);
  const next = cursor + count >= items.length ? 0 : cursor + count;
  return [String(next), page.filter(([m]) => !match || globMatch(match, m!)).flat()];
}
