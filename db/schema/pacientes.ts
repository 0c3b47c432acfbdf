import { sql } from "drizzle-orm";
import { check, date, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common";
import { fisioterapeutas } from "./fisioterapeutas";

export const pacienteStatus = ["ativo", "inativo", "anonimizado"] as const;
export type PacienteStatus = (typeof pacienteStatus)[number];

/**
 * Typed mirror of `pacientes`. The table itself is hand-written SQL (db/migrations/0001_*):
 * PARTITION BY HASH (id) into 4 partitions, which drizzle-kit cannot express. Email and CPF are
 * unique across partitions through key tables in schema `private` maintained by a trigger (a
 * UNIQUE on the partitioned table would have to contain `id`).
 */
export const pacientes = pgTable(
  "pacientes",
  {
    id: uuid().primaryKey().defaultRandom(),
    nome: text().notNull(),
    email: text(),
    telefone: text(),
    data_nascimento: date({ mode: "string" }),
    /** 11 digits, no punctuation. */
    cpf: text(),
    status: text({ enum: pacienteStatus }).notNull().default("ativo"),
    fisioterapeuta_id: uuid()
      .notNull()
      .references(() => fisioterapeutas.id),
    ...timestamps,
  },
  (t) => [
    check("pacientes_status_check", sql`${t.status} in ('ativo', 'inativo', 'anonimizado')`),
    check("pacientes_cpf_check", sql`${t.cpf} ~ '^[0-9]{11}$'`),
  ],
);

export type Paciente = typeof pacientes.$inferSelect;
export type NewPaciente = typeof pacientes.$inferInsert;
