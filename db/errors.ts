/**
 * Maps database errors the API turns into HTTP answers. Works with NeonDbError (HTTP),
 * the Pool's / node-postgres' DatabaseError (both carry `code` and `constraint`) and drizzle's
 * wrapped errors (the driver error is in `cause`).
 */

/** SQLSTATE + constraint of a double booking (exclusion constraint on private.consultas_agenda). */
export const SLOT_TAKEN = { code: "23P01", constraint: "consultas_no_overlap" } as const;

/** Unique constraints the API may see, by name. */
export const UNIQUE_CONSTRAINTS = {
  pacienteEmail: "pacientes_email_key",
  pacienteCpf: "pacientes_cpf_key",
  fisioterapeutaEmail: "fisioterapeutas_email_key",
  exercicioNome: "exercicios_nome_key",
  consultaId: "consultas_id_key",
  prontuarioCorrigido: "prontuarios_corrige_id_key",
} as const;

export interface PgErrorLike {
  code?: string;
  constraint?: string;
}

/** The first error in the cause chain that carries a SQLSTATE. */
export function pgError(err: unknown): PgErrorLike | undefined {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const candidate = e as PgErrorLike & { cause?: unknown };
    if (typeof candidate.code === "string" && /^[0-9A-Z]{5}$/.test(candidate.code)) return candidate;
    e = candidate.cause;
  }
  return undefined;
}

/** A consulta overlapping another of the same fisioterapeuta → 409 slot_taken. */
export function isSlotTaken(err: unknown): boolean {
  const e = pgError(err);
  return e?.code === SLOT_TAKEN.code && e.constraint === SLOT_TAKEN.constraint;
}

/** 23505, optionally of one named constraint (e.g. "pacientes_email_key"). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = pgError(err);
  return e?.code === "23505" && (constraint === undefined || e.constraint === constraint);
}

/** 42501: the role lacks a grant, or an append-only table refused a change. */
export function isPermissionDenied(err: unknown): boolean {
  return pgError(err)?.code === "42501";
}

/** 42501 from an RLS WITH CHECK ("new row violates row-level security policy"). */
export function isRlsViolation(err: unknown): boolean {
  const e = pgError(err) as (PgErrorLike & { message?: string }) | undefined;
  return (
    e?.code === "42501" && /row-level security/.test(String((err as Error)?.message ?? e?.message ?? ""))
  );
}

/**
 * Which identifying field a 23505 is about, for a generic 409: "email" (pacientes_email_key,
 * fisioterapeutas_email_key), "cpf" (pacientes_cpf_key), else null. Uniqueness is global, across
 * clinics, so this answer alone tells a fisioterapeuta that the value exists somewhere: the API
 * answers with `uniqueViolationMessage(field)` only — never the driver's message or `detail`
 * ("Key (cpf)=(…) already exists" carries the value), not even in logs — and rate-limits it.
 */
export function uniqueViolationField(err: unknown): "email" | "cpf" | null {
  const e = pgError(err);
  if (e?.code !== "23505") return null;
  switch (e.constraint) {
    case UNIQUE_CONSTRAINTS.pacienteEmail:
    case UNIQUE_CONSTRAINTS.fisioterapeutaEmail:
      return "email";
    case UNIQUE_CONSTRAINTS.pacienteCpf:
      return "cpf";
    default:
      return null;
  }
}

/** The 409 text for `uniqueViolationField`: names the field, never the value. */
export function uniqueViolationMessage(field: "email" | "cpf"): string {
  return field === "cpf" ? "this CPF cannot be registered" : "this email cannot be registered";
}

/**
 * SQLSTATEs after which the same request can succeed and nothing was committed: serialization
 * failure and deadlock (the transaction was rolled back), too many connections and admin shutdown
 * (Neon restarting or scaling a compute: the statement did not run). A request may retry these,
 * writes included.
 */
export function isRetryableSqlState(code: string | undefined): boolean {
  return code === "40001" || code === "40P01" || code === "53300" || code === "57P01";
}

/**
 * Connection exceptions (class 08): the connection broke, and a write's outcome is unknown. A read
 * may retry; a write only when the client made it idempotent (Idempotency-Key).
 */
export function isConnectionException(code: string | undefined): boolean {
  // 08P01 (protocol violation) is a bug of ours, e.g. a parameter count that does not match.
  return (code?.startsWith("08") ?? false) && code !== "08P01";
}
