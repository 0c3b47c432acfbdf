import { describe, expect, it } from "vitest";
import { createLogger } from "./logger";

describe("logger", () => {
  it("writes one JSON object per line and drops personal fields", () => {
    const lines: string[] = [];
    const log = createLogger("info", { request_id: "r1" }, (l) => lines.push(l));
    log.info("request", { status: 200, nome: "Maria Silva", cpf: "123", email: "m@x.br", user_id: "u1" });
    log.debug("hidden");
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({
      level: "info",
      msg: "request",
      request_id: "r1",
      status: 200,
      user_id: "u1",
    });
    expect(lines[0]).not.toMatch(/Maria|m@x\.br|"123"/);
  });

  it("child loggers carry their fields, redacted too", () => {
    const lines: string[] = [];
    const log = createLogger("debug", {}, (l) => lines.push(l)).child({ job: "sync", token: "t0p" });
    log.warn("x");
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", job: "sync", token: "[redacted]" });
  });
});
