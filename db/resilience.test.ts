import { describe, expect, it } from "vitest";
import { createDbExecutor, DatabaseUnavailableError } from "./resilience";

// Errors shaped as the Neon driver throws them: a NeonDbError without SQLSTATE when no answer
// came back (network, timeout, non-400 status), with `code` when PostgreSQL answered.
const noAnswer = () =>
  Object.assign(new Error("Error connecting to database: fetch failed"), { name: "NeonDbError" });
const sqlState = (code: string) =>
  Object.assign(new Error(`sqlstate ${code}`), { name: "NeonDbError", code });
const fast = { initialDelayMs: 1, maxDelayMs: 2 };

/** A call that fails with `errors` in turn, then answers "ok"; counts its attempts. */
function flaky(...errors: Error[]) {
  const call = async () => {
    call.attempts++;
    const err = errors.shift();
    if (err) throw err;
    return "ok";
  };
  call.attempts = 0;
  return call;
}

describe("createDbExecutor", () => {
  it("retries a read after no answer, and a write after a SQLSTATE that proves nothing committed", async () => {
    const exec = createDbExecutor(fast);
    const read = flaky(noAnswer(), noAnswer());
    expect(await exec(read, { write: false })).toBe("ok");
    expect(read.attempts).toBe(3);
    for (const code of ["40001", "40P01", "53300", "57P01"]) {
      const write = flaky(sqlState(code));
      expect(await exec(write, { write: true })).toBe("ok");
      expect(write.attempts, code).toBe(2);
    }
  });

  it("never retries a write whose outcome is unknown (it may have committed)", async () => {
    const exec = createDbExecutor(fast);
    for (const err of [noAnswer(), sqlState("08006")]) {
      const write = flaky(err);
      await expect(exec(write, { write: true })).rejects.toBe(err);
      expect(write.attempts).toBe(1);
    }
  });

  it("never retries SQL errors or our own bugs, and stops after maxAttempts", async () => {
    const exec = createDbExecutor({ ...fast, maxAttempts: 3 });
    for (const err of [sqlState("23505"), sqlState("42501"), new TypeError("bug")]) {
      const call = flaky(err);
      await expect(exec(call, { write: false })).rejects.toBe(err);
      expect(call.attempts).toBe(1);
    }
    const down = flaky(noAnswer(), noAnswer(), noAnswer(), noAnswer());
    await expect(exec(down, { write: false })).rejects.toMatchObject({
      name: "NeonDbError",
    });
    expect(down.attempts).toBe(3);
  });

  it("opens the circuit after consecutive transient failures: then fails at once with a retry time", async () => {
    const exec = createDbExecutor({
      ...fast,
      maxAttempts: 1,
      breakerThreshold: 3,
      breakerFirstOpenMs: 60_000,
      breakerOpenMs: 120_000,
    });
    for (let i = 0; i < 3; i++) {
      await expect(exec(flaky(noAnswer()), { write: false })).rejects.toMatchObject({
        name: "NeonDbError",
      });
    }
    const healthy = flaky();
    const err = await exec(healthy, { write: false }).catch((e) => e);
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect(err.retryAfterSeconds).toBe(60);
    expect(healthy.attempts).toBe(0);
    // SQL errors do not count: another executor stays closed through them.
    const other = createDbExecutor({ ...fast, maxAttempts: 1, breakerThreshold: 2 });
    for (let i = 0; i < 3; i++) {
      await expect(other(flaky(sqlState("23505")), { write: true })).rejects.toBeTruthy();
    }
    expect(await other(flaky(), { write: false })).toBe("ok");
  });

  it("probes again after the first wait, doubles the wait after a failed probe, and starts over once closed", async () => {
    const exec = createDbExecutor({
      ...fast,
      maxAttempts: 1,
      breakerThreshold: 2,
      breakerFirstOpenMs: 60,
      breakerOpenMs: 1_000,
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const open = async () => {
      for (let i = 0; i < 2; i++) await exec(flaky(noAnswer()), { write: false }).catch(() => {});
    };
    const unavailable = async () => {
      const call = flaky();
      const err = await exec(call, { write: false }).catch((e) => e);
      return err instanceof DatabaseUnavailableError && call.attempts === 0;
    };
    await open();
    expect(await unavailable()).toBe(true);
    await sleep(80); // past the first 60 ms: one probe goes through, and fails
    const probe = flaky(noAnswer());
    await expect(exec(probe, { write: false })).rejects.toMatchObject({ name: "NeonDbError" });
    expect(probe.attempts).toBe(1);
    await sleep(80); // the wait is 120 ms now: still open
    expect(await unavailable()).toBe(true);
    await sleep(80); // 160 ms > 120 ms: the next probe succeeds and closes the circuit
    expect(await exec(flaky(), { write: false })).toBe("ok");
    expect(await exec(flaky(), { write: false })).toBe("ok");
    // Opened again, it waits the first 60 ms again, not the doubled wait.
    await open();
    expect(await unavailable()).toBe(true);
    await sleep(80);
    expect(await exec(flaky(), { write: false })).toBe("ok");
  });

  it("gives every call a signal that aborts after timeoutMs", async () => {
    const exec = createDbExecutor({ ...fast, timeoutMs: 30, maxAttempts: 1 });
    const seen = await exec(
      (signal) =>
        new Promise<string>((resolve) => {
          signal.addEventListener("abort", () => resolve(`aborted: ${signal.reason?.name}`));
        }),
      { write: false },
    );
    expect(seen).toBe("aborted: TimeoutError");
  });
});
