/**
 * Pacientes as the API shows and takes them: snake_case, as in the database. The complete example
 * every other resource copies: one schema file, one file per verb, each a createRoute.
 */
import { z } from "@hono/zod-openapi";
import type { PacienteRow } from "../../../db/queries/pacientes";
import { isValidCpf, normalizeCpf } from "../../lib/cpf";
import { pageOf } from "../openapi";

export const PacienteStatus = z.enum(["ativo", "inativo", "anonimizado"]);

export const Paciente = z
  .object({
    id: z.uuid(),
    nome: z.string(),
    email: z.string().nullable(),
    telefone: z.string().nullable(),
    data_nascimento: z.iso.date().nullable(),
    cpf: z.string().nullable().openapi({ description: "11 digits" }),
    status: PacienteStatus,
    fisioterapeuta_id: z.uuid(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Paciente");
export type Paciente = z.infer<typeof Paciente>;

export const PacientePage = pageOf(Paciente, "PacientePage");

const nome = z.string().trim().min(1).max(200);
const email = z
  .email()
  .max(254)
  .transform((e) => e.toLowerCase());
const telefone = z
  .string()
  .trim()
  .regex(/^[0-9()+\-\s]{8,20}$/, "8 to 20 digits, spaces, parentheses, + or -");
const dataNascimento = z.iso
  .date()
  .refine(
    (d) => d >= "1900-01-01" && d <= new Date().toISOString().slice(0, 10),
    "not a plausible birth date",
  );
const cpf = z
  .string()
  .max(20)
  .refine(isValidCpf, "not a valid CPF (check digits)")
  .transform(normalizeCpf)
  .openapi({ description: "With or without punctuation; stored as 11 digits", example: "529.982.247-25" });

export const CreatePaciente = z
  .object({
    nome,
    email: email.optional(),
    telefone: telefone.optional(),
    data_nascimento: dataNascimento.optional(),
    cpf: cpf.optional(),
    fisioterapeuta_id: z
      .uuid()
      .optional()
      .openapi({ description: "Required for admins; a fisioterapeuta creates pacientes of their own" }),
  })
  .strict()
  .openapi("CreatePaciente");

export const UpdatePaciente = z
  .object({
    nome: nome.optional(),
    email: email.nullable().optional(),
    telefone: telefone.nullable().optional(),
    data_nascimento: dataNascimento.nullable().optional(),
    cpf: cpf.nullable().optional(),
    status: z.enum(["ativo", "inativo"]).optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "nothing to update")
  .openapi("UpdatePaciente");

export const ListPacientesQuery = z.object({
  q: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: "Portuguese full text + fuzzy name" }),
  status: PacienteStatus.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(300).optional(),
});

export function toPaciente(r: PacienteRow): Paciente {
  return {
    id: r.id,
    nome: r.nome,
    email: r.email,
    telefone: r.telefone,
    data_nascimento: r.data_nascimento,
    cpf: r.cpf,
    status: r.status,
    fisioterapeuta_id: r.fisioterapeuta_id,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
