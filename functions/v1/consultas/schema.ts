/**
 * Consultas as the API shows and takes them: snake_case, as in the database. `data_consulta` is
 * the start instant; it is accepted only with an explicit offset (or Z), since a clinic's local
 * time without one would be read in the server's zone.
 */
import { z } from "@hono/zod-openapi";
import { type ConsultaRow, consultaStatus } from "../../../db/queries/consultas";
import { pageOf } from "../openapi";

export const ConsultaStatus = z.enum(consultaStatus);

export const Consulta = z
  .object({
    id: z.uuid(),
    paciente_id: z.uuid(),
    fisioterapeuta_id: z.uuid(),
    data_consulta: z.iso.datetime().openapi({ description: "Start instant, UTC" }),
    duracao_min: z.number().int(),
    status: ConsultaStatus,
    observacoes: z.string().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Consulta");
export type Consulta = z.infer<typeof Consulta>;

export const ConsultaPage = pageOf(Consulta, "ConsultaPage");

/** The bounds of consultas_data_consulta_check (migration 0009), checked here so they answer 400. */
const EARLIEST = Date.parse("2000-01-01T00:00:00Z");
const LATEST = Date.parse("2200-01-01T00:00:00Z");

const instant = z.iso
  .datetime({ offset: true })
  .refine((s) => {
    const t = Date.parse(s);
    return t >= EARLIEST && t < LATEST;
  }, "must be from 2000 to 2199")
  .openapi({ description: "ISO 8601 instant with offset", example: "2030-03-04T14:00:00-03:00" });

const duracaoMin = z.number().int().min(5).max(480).openapi({ description: "Minutes, 5 to 480" });
const observacoes = z.string().trim().max(10_000);

export const CreateConsulta = z
  .object({
    paciente_id: z.uuid(),
    data_consulta: instant,
    duracao_min: duracaoMin.default(50).openapi({ description: "Minutes, 5 to 480 (default 50)" }),
    observacoes: observacoes.optional(),
    fisioterapeuta_id: z
      .uuid()
      .optional()
      .openapi({ description: "Required for admins; a fisioterapeuta books in their own name" }),
  })
  .strict()
  .openapi("CreateConsulta");

export const UpdateConsulta = z
  .object({
    data_consulta: instant.optional(),
    duracao_min: duracaoMin.optional(),
    observacoes: observacoes.nullable().optional(),
    status: ConsultaStatus.optional().openapi({
      description:
        "agendada → confirmada → realizada; agendada or confirmada → cancelada or falta. " +
        "realizada, cancelada and falta are final. Anything else answers 422 invalid_transition.",
    }),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "nothing to update")
  .openapi("UpdateConsulta");

/** A list without `to` covers this many days; a longer range than MAX_RANGE_DAYS is refused. */
export const DEFAULT_RANGE_DAYS = 31;
export const MAX_RANGE_DAYS = 366;

/** A list bound: a date (UTC midnight) or an instant with offset. */
const bound = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })])
  .transform((s) => (s.length === 10 ? `${s}T00:00:00Z` : s))
  .refine((s) => {
    const t = Date.parse(s);
    return t >= EARLIEST && t <= LATEST;
  }, "must be from 2000 to 2200");

export const ListConsultasQuery = z.object({
  from: bound.optional().openapi({
    description: "Start of the range (inclusive): a date (UTC) or an instant; default today 00:00 UTC",
    example: "2030-03-01",
  }),
  to: bound.optional().openapi({
    description: `End of the range (exclusive); default \`from\` + ${DEFAULT_RANGE_DAYS} days. At most ${MAX_RANGE_DAYS} days after \`from\``,
    example: "2030-04-01",
  }),
  paciente_id: z.uuid().optional(),
  fisioterapeuta_id: z.uuid().optional(),
  status: ConsultaStatus.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(300).optional(),
});

export function toConsulta(r: ConsultaRow): Consulta {
  return {
    id: r.id,
    paciente_id: r.paciente_id,
    fisioterapeuta_id: r.fisioterapeuta_id,
    data_consulta: r.data_consulta.toISOString(),
    duracao_min: r.duracao_min,
    status: r.status,
    observacoes: r.observacoes,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
