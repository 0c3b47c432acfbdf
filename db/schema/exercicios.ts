import { sql } from "drizzle-orm";
import { boolean, check, date, index, integer, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common";
import { fisioterapeutas } from "./fisioterapeutas";
import { pacientes } from "./pacientes";

/** Exercise catalog, shared by every clinic user. */
export const exercicios = pgTable("exercicios", {
  id: uuid().primaryKey().defaultRandom(),
  nome: text().notNull().unique("exercicios_nome_key"),
  descricao: text(),
  categoria: text().notNull(),
  ...timestamps,
});

/** A paciente's prescribed exercise. */
export const prescricoes = pgTable(
  "prescricoes",
  {
    id: uuid().primaryKey().defaultRandom(),
    paciente_id: uuid()
      .notNull()
      .references(() => pacientes.id),
    exercicio_id: uuid()
      .notNull()
      .references(() => exercicios.id),
    fisioterapeuta_id: uuid()
      .notNull()
      .references(() => fisioterapeutas.id),
    series: integer().notNull(),
    repeticoes: integer().notNull(),
    /** e.g. "3x/semana". */
    frequencia: text().notNull(),
    observacoes: text(),
    inicio: date({ mode: "string" }).notNull().defaultNow(),
    fim: date({ mode: "string" }),
    ativa: boolean().notNull().default(true),
    ...timestamps,
  },
  (t) => [
    index("prescricoes_paciente_idx").on(t.paciente_id),
    check("prescricoes_series_check", sql`${t.series} between 1 and 50`),
    check("prescricoes_repeticoes_check", sql`${t.repeticoes} between 1 and 500`),
    check("prescricoes_periodo_check", sql`${t.fim} is null or ${t.fim} >= ${t.inicio}`),
  ],
);

export type Exercicio = typeof exercicios.$inferSelect;
export type Prescricao = typeof prescricoes.$inferSelect;
