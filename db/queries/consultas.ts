/**
 * The SQL of the consultas routes, run through the caller-scoped handle (db/caller.ts): RLS
 * decides what each caller sees and may write, and the booking ledger's exclusion constraint
 * (`consultas_no_overlap`, db/migrations/0003) refuses a double booking with 23P01.
 *
 * `consultas` is PARTITION BY RANGE (data_consulta) with the key (id, data_consulta). Lists always
 * carry a data_consulta range, so the planner reads only the months in it. By id alone every
 * partition is probed (one index lookup each, on its primary key): the month is not known, and
 * `id` is unique across partitions through the ledger, so that finds the one row wherever it is.
 */
import { type ConsultaStatus, consultaStatus } from "../schema/consultas";

export { type ConsultaStatus, consultaStatus };

export const CONSULTA_COLUMNS = `c.id, c.paciente_id, c.fisioterapeuta_id, c.data_consulta, c.duracao_min,
  c.status, c.observacoes, c.created_at, c.updated_at, c.updated_at::text AS version`;

export interface ConsultaRow {
  id: string;
  paciente_id: string;
  fisioterapeuta_id: string;
  data_consulta: Date;
  duracao_min: number;
  status: ConsultaStatus;
  observacoes: string | null;
  created_at: Date;
  updated_at: Date;
  version: string;
}

/**
 * Status changes a PATCH may make. A final status (realizada, cancelada, falta) has none; setting
 * the status a consulta already has changes nothing and is allowed.
 */
export const CONSULTA_TRANSITIONS: Record<ConsultaStatus, readonly ConsultaStatus[]> = {
  agendada: ["confirmada", "cancelada", "falta"],
  confirmada: ["realizada", "cancelada", "falta"],
  realizada: [],
  cancelada: [],
  falta: [],
};

/** Statuses in which a consulta may still be moved (new data_consulta or duracao_min). */
export const CONSULTA_MOVABLE: readonly ConsultaStatus[] = ["agendada", "confirmada"];

const lit = (s: string) => `'${s}'`;
// Built once from the constants above (never from input), so the SQL and the 422 agree.
const TRANSITION_PAIRS = Object.entries(CONSULTA_TRANSITIONS)
  .flatMap(([from, tos]) => tos.map((to) => `(${lit(from)}, ${lit(to)})`))
  .join(", ");
const MOVABLE_LIST = CONSULTA_MOVABLE.map(lit).join(", ");

export const CONSULTA_BY_ID = `SELECT ${CONSULTA_COLUMNS} FROM public.consultas c WHERE c.id = $1::uuid`;

/**
 * Books a consulta for a paciente the caller can see and who is active: the SELECT runs under the
 * caller's RLS, so a paciente of another clinic (or none) inserts no row, exactly like a missing
 * one. The database checks the rest: the fisioterapeuta named (RLS WITH CHECK, foreign key) and
 * the slot (23P01).
 */
export const INSERT_CONSULTA = `
INSERT INTO public.consultas AS c (paciente_id, fisioterapeuta_id, data_consulta, duracao_min, observacoes)
SELECT p.id, $2::uuid, $3::timestamptz, $4::integer, $5::text
  FROM public.pacientes p
 WHERE p.id = $1::uuid AND p.status = 'ativo'
RETURNING ${CONSULTA_COLUMNS}`;

export interface NewConsultaValues {
  paciente_id: string;
  fisioterapeuta_id: string;
  data_consulta: string;
  duracao_min: number;
  observacoes?: string | null;
}

export function insertConsulta(v: NewConsultaValues) {
  return {
    text: INSERT_CONSULTA,
    params: [v.paciente_id, v.fisioterapeuta_id, v.data_consulta, v.duracao_min, v.observacoes ?? null],
  };
}

export interface ConsultaListFilter {
  /** Inclusive start of the data_consulta range (ISO instant). */
  from: string;
  /** Exclusive end of the data_consulta range (ISO instant). */
  to: string;
  paciente_id?: string;
  fisioterapeuta_id?: string;
  status?: ConsultaStatus;
  /** Keyset: the (data_consulta::text, id) of the last row of the previous page. */
  after?: { at: string; id: string };
  /** Rows to fetch (the page size + 1, to know whether more follow). */
  limit: number;
}

/**
 * Oldest first in [from, to), keyset-paged on (data_consulta, id). The range is two plain
 * comparisons on the partition key, so the planner prunes to the months they cover (the test
 * reads the plan); the optional filters are `$n IS NULL OR ...`, folded away when bound.
 */
export const CONSULTAS_LIST = `
SELECT ${CONSULTA_COLUMNS}, c.data_consulta::text AS cursor_at
  FROM public.consultas c
 WHERE c.data_consulta >= $1::timestamptz
   AND c.data_consulta < $2::timestamptz
   AND ($3::uuid IS NULL OR c.paciente_id = $3::uuid)
   AND ($4::uuid IS NULL OR c.fisioterapeuta_id = $4::uuid)
   AND ($5::text IS NULL OR c.status = $5::text)
   AND ($6::timestamptz IS NULL OR (c.data_consulta, c.id) > ($6::timestamptz, $7::uuid))
 ORDER BY c.data_consulta, c.id
 LIMIT $8::integer`;

export function listConsultas(f: ConsultaListFilter) {
  return {
    text: CONSULTAS_LIST,
    params: [
      f.from,
      f.to,
      f.paciente_id ?? null,
      f.fisioterapeuta_id ?? null,
      f.status ?? null,
      f.after?.at ?? null,
      f.after?.id ?? null,
      f.limit,
    ],
  };
}

/** Columns a PATCH may set, as the API names them (the same as the table's). */
export const CONSULTA_WRITABLE = ["data_consulta", "duracao_min", "observacoes", "status"] as const;
export type ConsultaWritable = (typeof CONSULTA_WRITABLE)[number];

const CASTS: Record<ConsultaWritable, string> = {
  data_consulta: "timestamptz",
  duracao_min: "integer",
  observacoes: "text",
  status: "text",
};

/**
 * UPDATE of the given columns in one statement that writes only if the row's version is still
 * `version` (when given), the status change is one CONSULTA_TRANSITIONS allows, and a move
 * (data_consulta or duracao_min) happens in a movable status. A move re-enters the booking
 * ledger through the statement trigger, so an overlap fails with 23P01; one into another month
 * moves the row to that partition. Column names come from CONSULTA_WRITABLE only.
 */
export function updateConsulta(
  id: string,
  values: Partial<Record<ConsultaWritable, unknown>>,
  version?: string,
) {
  const cols = CONSULTA_WRITABLE.filter((k) => values[k] !== undefined);
  const moving = values.data_consulta !== undefined || values.duracao_min !== undefined;
  const sets = cols.map((c, i) => `${c} = $${i + 5}::${CASTS[c]}`);
  return {
    text: `UPDATE public.consultas AS c SET ${sets.join(", ")}
            WHERE c.id = $1::uuid
              AND ($2::timestamptz IS NULL OR c.updated_at = $2::timestamptz)
              AND ($3::text IS NULL OR c.status = $3::text OR (c.status, $3::text) IN (${TRANSITION_PAIRS}))
              AND (NOT $4::boolean OR c.status IN (${MOVABLE_LIST}))
           RETURNING ${CONSULTA_COLUMNS}`,
    params: [id, version ?? null, values.status ?? null, moving, ...cols.map((c) => values[c])],
  };
}

/** After a conditional write: the row as the caller sees it now (404 vs 412 vs 422). */
export const CONSULTA_STATE =
  "SELECT c.status, c.updated_at::text AS version FROM public.consultas c WHERE c.id = $1::uuid";
