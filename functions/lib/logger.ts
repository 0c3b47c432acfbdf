/**
 * Structured JSON logs, one object per line. Callers pass ids, codes and numbers: never names,
 * CPF, email, clinical text or secrets. `redact` drops any field whose name suggests PII anyway.
 */
export type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const PII_KEYS =
  /(nome|name|email|cpf|telefone|phone|password|secret|token|observacoes|texto|authorization|connection)/i;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = PII_KEYS.test(k) ? "[redacted]" : v;
  return out;
}

export function createLogger(
  level: Level = "info",
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => console.log(line),
): Logger {
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[lvl] < order[level]) return;
    write(
      JSON.stringify({ level: lvl, msg, time: new Date().toISOString(), ...base, ...redact(fields ?? {}) }),
    );
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(level, { ...base, ...redact(fields) }, write),
  };
}
