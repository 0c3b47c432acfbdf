import { sql } from "drizzle-orm";
import { check, integer, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common";
import { fisioterapeutas } from "./fisioterapeutas";
import { pacientes } from "./pacientes";

export const consultaStatus = ["agendada", "confirmada", "realizada", "cancelada", "falta"] as const;
export type ConsultaStatus = (typeof consultaStatus)[number];

/**
 * Typed mirror of `consultas`, hand-written in SQL as PARTITION BY RANGE (data_consulta), monthly
 * partitions + DEFAULT. A key on a partitioned table must contain the partition key, so the
 * primary key is (id, data_consulta); `id` alone is kept globally unique by
 * `private.consultas_agenda`, which also carries the no-double-booking exclusion constraint
 * `consultas_no_overlap`.
 */
export const consultas = pgTable(
  "consultas",
  {
    id: uuid().notNull().defaultRandom(),
    paciente_id: uuid()
      .notNull()
      .references(() => pacientes.id),
    fisioterapeuta_id: uuid()
      .notNull()
      .references(() => fisioterapeutas.id),
    /** Start of the appointment. */
    data_consulta: timestamp({ withTimezone: true }).notNull(),
    duracao_min: integer().notNull().default(50),
    status: text({ enum: consultaStatus }).notNull().default("agendada"),
    observacoes: text(),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: "consultas_pkey", columns: [t.id, t.data_consulta] }),
    check("consultas_duracao_check", sql`${t.duracao_min} between 5 and 480`),
    check(
      "consultas_status_check",
      sql`${t.status} in ('agendada', 'confirmada', 'realizada', 'cancelada', 'falta')`,
    ),
  ],
);

export type Consulta = typeof consultas.$inferSelect;
export type NewConsulta = typeof consultas.$inferInsert;
