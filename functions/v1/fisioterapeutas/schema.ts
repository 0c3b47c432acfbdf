/**
 * Fisioterapeutas as the API shows and takes them: snake_case, as in the database.
 */
import { z } from "@hono/zod-openapi";
import type { FisioterapeutaRow } from "../../../db/queries/fisioterapeutas";
import { pageOf } from "../openapi";

export const Fisioterapeuta = z
  .object({
    id: z.uuid(),
    nome: z.string(),
    email: z.string(),
    crefito: z.string().openapi({ example: "CREFITO-3/123456-F" }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Fisioterapeuta");
export type Fisioterapeuta = z.infer<typeof Fisioterapeuta>;

export const FisioterapeutaPage = pageOf(Fisioterapeuta, "FisioterapeutaPage");

// PostgreSQL text cannot hold NUL: refused here, as a 400, rather than by the driver as a 500.
const nome = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((s) => !s.includes("\u0000"), "must not contain NUL");
const email = z
  .email()
  .max(254)
  .transform((e) => e.toLowerCase());

/**
 * The council registration, checked loosely: the regional council (CREFITO-1 to -20-something),
 * the number, and `F` for fisioterapeuta (`TO` would be a terapeuta ocupacional, not registered
 * here). Case, a space for the first dash and a missing last dash are forgiven; stored canonical.
 */
const CREFITO = /^CREFITO[-\s]?(\d{1,2})\/(\d{1,7})-?F$/;
const crefito = z
  .string()
  .max(40)
  .transform((v) => v.trim().toUpperCase())
  .refine((v) => CREFITO.test(v), "expected CREFITO-<region>/<number>-F")
  .transform((v) => {
    const [, region, number] = CREFITO.exec(v)!;
    return `CREFITO-${Number(region)}/${number}-F`;
  })
  .openapi({ description: "CREFITO-<region>/<number>-F", example: "CREFITO-3/123456-F" });

export const CreateFisioterapeuta = z
  .object({ nome, email, crefito })
  .strict()
  .openapi("CreateFisioterapeuta");

export const UpdateFisioterapeuta = z
  .object({ nome: nome.optional(), email: email.optional(), crefito: crefito.optional() })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "nothing to update")
  .openapi("UpdateFisioterapeuta");

export const ListFisioterapeutasQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(300).optional(),
});

export function toFisioterapeuta(r: FisioterapeutaRow): Fisioterapeuta {
  return {
    id: r.id,
    nome: r.nome,
    email: r.email,
    crefito: r.crefito,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
