/**
 * `npm run migrate:rehearse` end to end, small: a private cluster as the source, writes arriving
 * the whole time, bulk → sync → CDC → cut-over, and its last line. Needs the PostgreSQL server
 * binaries (skipped with a message without them, a failure under CI=true).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { findPgBin } from "../../dev/cluster";

const run = promisify(execFile);
const bin = findPgBin();
if (bin.dir === null && process.env.CI === "true")
  throw new Error(`CI needs PostgreSQL server binaries: looked in ${bin.looked}`);
if (bin.dir === null)
  console.warn(`[skip] migrate:rehearse: no PostgreSQL server binaries (looked in ${bin.looked})`);

describe.skipIf(bin.dir === null)("npm run migrate:rehearse", () => {
  it("moves generated data with writes arriving and verifies every table, nothing lost", {
    timeout: 180_000,
  }, async () => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "dev/migration-rehearse.ts", "--pacientes", "300"],
      {
        timeout: 170_000,
        maxBuffer: 1 << 24,
      },
    );
    const lines = stdout.trim().split("\n");
    expect(lines.at(-1)).toBe("rehearsal: 6 of 6 tables verified equal (count and checksum); rows lost: 0");
    expect(stdout).toMatch(/GO in/);
    expect(stdout).toMatch(/pacientes\/cpf_duplicado: \d+/);
    expect(stdout).toMatch(/writer: [1-9]\d* writes acknowledged/);
    expect(stdout).toMatch(/CDC: [1-9]\d* source transactions applied while the writer ran/);
  });
});
