import { sql } from "drizzle-orm";
import { type AnyPgColumn, check, integer, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common";
import { fisioterapeutas } from "./fisioterapeutas";
import { pacientes } from "./pacientes";

/**
 * Clinical records, append-only. A correction is a new row with `versao` = corrected row's + 1
 * and `corrige_id` pointing at it (set by trigger; one correction per row, so versions form a
 * chain). UPDATE and DELETE are refused by a trigger for every role and never granted to the app.
 * `consulta_id` has no foreign key: consultas' key is (id, data_consulta).
 */
export const prontuarios = pgTable(
  "prontuarios",
  {
    id: uuid().primaryKey().defaultRandom(),
    paciente_id: uuid()
      .notNull()
      .references(() => pacientes.id),
    fisioterapeuta_id: uuid()
      .notNull()
      .references(() => fisioterapeutas.id),
    consulta_id: uuid(),
    versao: integer().notNull().default(1),
    corrige_id: uuid()
      .unique("prontuarios_corrige_id_key")
      .references((): AnyPgColumn => prontuarios.id),
    conteudo: text().notNull(),
    ...timestamps,
  },
  (t) => [
    check("prontuarios_versao_check", sql`${t.versao} >= 1`),
    // 0018: the target of anexos' (prontuario_id, paciente_id) foreign key.
    unique("prontuarios_id_paciente_id_key").on(t.id, t.paciente_id),
  ],
);

export type Prontuario = typeof prontuarios.$inferSelect;
export type NewProntuario = typeof prontuarios.$inferInsert;
