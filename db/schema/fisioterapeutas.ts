import { pgTable, text, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common";

export const fisioterapeutas = pgTable("fisioterapeutas", {
  id: uuid().primaryKey().defaultRandom(),
  nome: text().notNull(),
  email: text().notNull().unique("fisioterapeutas_email_key"),
  /** Council registration, e.g. "CREFITO-3/123456-F". */
  crefito: text().notNull(),
  ...timestamps,
});

export type Fisioterapeuta = typeof fisioterapeutas.$inferSelect;
export type NewFisioterapeuta = typeof fisioterapeutas.$inferInsert;
