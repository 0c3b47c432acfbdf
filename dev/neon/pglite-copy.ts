/**
 * COPY ... FROM STDIN on a PGlite session (psql's \copy, pg-copy-streams, a restore).
 *
 * PGlite runs each batch of client messages to completion and cannot wait for more input: a COPY
 * FROM STDIN whose data is not in the same batch reads end-of-input and the whole PGlite exits. So
 * the session plays PostgreSQL's part for the wait: a simple Query that is a COPY FROM STDIN is
 * held, the client is sent a CopyInResponse, its CopyData is buffered until CopyDone or CopyFail,
 * and then the Query and all its data go to PGlite in one batch (whose own CopyInResponse the
 * client must not see twice). Any other Query or Execute is followed by a CopyFail, which
 * PostgreSQL ignores outside COPY: a COPY FROM STDIN the pattern did not recognise (in the
 * extended protocol, or after another statement in the same Query) fails with 57014 instead of
 * stopping PGlite. The data is held in memory (local development sizes).
 */
import { copyFail, message } from "./protocol";

const COPY_FROM_STDIN = /^\s*copy\s[\s\S]*?\bfrom\s+stdin\b/i;
const BINARY = /\(\s*format\s+'?binary'?|\bbinary\b/i;
const UNSUPPORTED_COPY = copyFail(
  "COPY FROM STDIN on the PGlite backend works only as a simple-protocol Query of its own",
);

export interface CopyStep {
  /** Messages PGlite may run now (may be empty). */
  run: Buffer;
  /** Bytes of the input consumed by this step. */
  consumed: number;
  /** Send this to the client now (the held COPY's CopyInResponse). */
  reply?: Buffer;
  /** `run` is a whole COPY FROM STDIN: drop PGlite's CopyInResponse from its output. */
  copy: boolean;
}

/** Splits the client's complete messages into what PGlite can run without waiting. */
export class PgliteCopyIn {
  private held: Buffer[] | null = null;

  get holding(): boolean {
    return this.held !== null;
  }

  /** One step over the complete messages at `starts` (offsets into `buf`, which ends at `end`). */
  step(buf: Buffer, starts: readonly number[], end: number): CopyStep {
    if (this.held) {
      for (const at of starts) {
        const next = at + 1 + buf.readInt32BE(at + 1);
        const type = buf[at];
        if (type === 0x63 || type === 0x66) {
          // CopyDone or CopyFail: the COPY can run now, with everything it needs.
          this.held.push(buf.subarray(0, next));
          const run = Buffer.concat(this.held);
          this.held = null;
          return { run, consumed: next, copy: true };
        }
      }
      this.held.push(Buffer.from(buf.subarray(0, end)));
      return { run: Buffer.alloc(0), consumed: end, copy: false };
    }
    const parts: Buffer[] = [];
    let copied = 0;
    for (const at of starts) {
      const type = buf[at];
      const next = at + 1 + buf.readInt32BE(at + 1);
      if (type === 0x51) {
        const sql = buf.toString("utf8", at + 5, next - 1);
        if (COPY_FROM_STDIN.test(sql)) {
          if (at > 0) {
            // Run what came before first; the COPY starts the next step.
            parts.push(buf.subarray(copied, at));
            return { run: Buffer.concat(parts), consumed: at, copy: false };
          }
          this.held = [Buffer.from(buf.subarray(0, next))];
          return {
            run: Buffer.alloc(0),
            consumed: next,
            reply: copyInResponse(BINARY.test(sql)),
            copy: false,
          };
        }
      }
      if (type === 0x51 || type === 0x45) {
        parts.push(buf.subarray(copied, next), UNSUPPORTED_COPY);
        copied = next;
      }
    }
    parts.push(buf.subarray(copied, end));
    return { run: Buffer.concat(parts), consumed: end, copy: false };
  }
}

/** CopyInResponse with no column formats: clients send their data the same either way. */
function copyInResponse(binary: boolean): Buffer {
  const body = Buffer.alloc(3);
  body.writeInt8(binary ? 1 : 0, 0);
  body.writeInt16BE(0, 1);
  return message("G", body);
}

/** PGlite's own CopyInResponse in a held COPY's output, which the client has had already. */
export function withoutCopyIn(out: Buffer): Buffer {
  let o = 0;
  while (o + 5 <= out.length) {
    const next = o + 1 + out.readInt32BE(o + 1);
    if (out[o] === 0x47) return Buffer.concat([out.subarray(0, o), out.subarray(next)]);
    o = next;
  }
  return out;
}
