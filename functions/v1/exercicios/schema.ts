/**
 * The exercicios catalog as the API shows and takes it: snake_case, as in the database.
 */
import { z } from "@hono/zod-openapi";
import type { ExercicioRow } from "../../../db/queries/exercicios";
import { pageOf } from "../openapi";

export const Exercicio = z
  .object({
    id: z.uuid(),
    nome: z.string(),
    descricao: z.string().nullable(),
    categoria: z.string(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Exercicio");
export type Exercicio = z.infer<typeof Exercicio>;

export const ExercicioPage = pageOf(Exercicio, "ExercicioPage");
export type ExercicioPage = z.infer<typeof ExercicioPage>;

// PostgreSQL text cannot hold NUL: refused here, as a 400, rather than by the driver as a 500.
const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain NUL");
const categoria = text(100);

export const CreateExercicio = z
  .object({
    nome: text(200).openapi({ example: "Ponte de glúteos" }),
    descricao: text(4000).optional(),
    categoria: categoria.openapi({ example: "fortalecimento" }),
  })
  .strict()
  .openapi("CreateExercicio");

export const ListExerciciosQuery = z.object({
  categoria: categoria.optional().openapi({ description: "Only this categoria (exact match)" }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  // A cursor carries a nome (up to 200 characters, percent-encoded): longer than other resources'.
  cursor: z.string().max(4096).optional(),
});

export function toExercicio(r: ExercicioRow): Exercicio {
  return {
    id: r.id,
    nome: r.nome,
    descricao: r.descricao,
    categoria: r.categoria,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
