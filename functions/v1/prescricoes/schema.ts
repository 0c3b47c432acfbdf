/**
 * Prescricoes (exercicios prescribed to a paciente) as the API shows and takes them: snake_case,
 * as in the database, with the exercicio's nome alongside its id.
 */
import { z } from "@hono/zod-openapi";
import type { PrescricaoRow } from "../../../db/queries/prescricoes";
import { pageOf } from "../openapi";

export const Prescricao = z
  .object({
    id: z.uuid(),
    paciente_id: z.uuid(),
    exercicio_id: z.uuid(),
    exercicio_nome: z.string(),
    fisioterapeuta_id: z.uuid().openapi({ description: "The fisioterapeuta responsible for it" }),
    series: z.int(),
    repeticoes: z.int(),
    frequencia: z.string(),
    observacoes: z.string().nullable(),
    inicio: z.iso.date(),
    fim: z.iso.date().nullable(),
    ativa: z.boolean(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Prescricao");
export type Prescricao = z.infer<typeof Prescricao>;

export const PrescricaoPage = pageOf(Prescricao, "PrescricaoPage");

/** PostgreSQL text cannot hold NUL: refused here as bad input, not by the database as a 500. */
const noNul = (s: string) => !s.includes("\u0000");
const series = z.int().min(1).max(50);
const repeticoes = z.int().min(1).max(500);
const frequencia = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine(noNul, "must not contain NUL characters")
  .openapi({ example: "3x/semana" });
const observacoes = z.string().trim().max(2000).refine(noNul, "must not contain NUL characters");
const data = z.iso.date().refine((d) => d >= "1900-01-01" && d < "2200-01-01", "not a plausible date");
const fimNotBeforeInicio = (v: { inicio?: string | null; fim?: string | null }) =>
  !v.inicio || !v.fim || v.fim >= v.inicio;

export const CreatePrescricao = z
  .object({
    exercicio_id: z.uuid(),
    series,
    repeticoes,
    frequencia,
    observacoes: observacoes.optional(),
    inicio: data,
    fim: data.optional().openapi({ description: "Last day, on or after inicio; open-ended when absent" }),
  })
  .strict()
  .refine(fimNotBeforeInicio, { message: "fim must be on or after inicio", path: ["fim"] })
  .openapi("CreatePrescricao");

export const UpdatePrescricao = z
  .object({
    series: series.optional(),
    repeticoes: repeticoes.optional(),
    frequencia: frequencia.optional(),
    observacoes: observacoes.nullable().optional(),
    inicio: data.optional(),
    fim: data.nullable().optional(),
    ativa: z.boolean().optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "nothing to update")
  .refine(fimNotBeforeInicio, { message: "fim must be on or after inicio", path: ["fim"] })
  .openapi("UpdatePrescricao");

export const ListPrescricoesQuery = z.object({
  ativa: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .openapi({ description: "Only active (`true`) or inactive (`false`) prescricoes; both when absent" }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(300).optional(),
});

export function toPrescricao(r: PrescricaoRow): Prescricao {
  return {
    id: r.id,
    paciente_id: r.paciente_id,
    exercicio_id: r.exercicio_id,
    exercicio_nome: r.exercicio_nome,
    fisioterapeuta_id: r.fisioterapeuta_id,
    series: r.series,
    repeticoes: r.repeticoes,
    frequencia: r.frequencia,
    observacoes: r.observacoes,
    inicio: r.inicio,
    fim: r.fim,
    ativa: r.ativa,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
