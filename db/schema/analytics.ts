import { date, integer, primaryKey, timestamp, uuid } from "drizzle-orm/pg-core";
import { analytics } from "./common";

/**
 * Daily consultas summary per fisioterapeuta, refreshed by `analytics.refresh_consultas_diarias`
 * (owner-run job). A table rather than a view: a view would run with its owner's rights (views
 * with security_invoker need PostgreSQL 15, Neon still runs 14) and bypass the callers' RLS.
 */
export const consultasDiarias = analytics.table(
  "consultas_diarias",
  {
    dia: date({ mode: "string" }).notNull(),
    fisioterapeuta_id: uuid().notNull(),
    total: integer().notNull(),
    realizadas: integer().notNull(),
    canceladas: integer().notNull(),
    faltas: integer().notNull(),
    minutos_agendados: integer().notNull(),
    atualizado_em: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "consultas_diarias_pkey", columns: [t.dia, t.fisioterapeuta_id] })],
);
