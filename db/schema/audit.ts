import { bigint, index, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { audit } from "./common";

/**
 * One row per insert/update/delete (and audited read) of a clinical row: who, what, which
 * columns changed — never the values, so no clinical text or personal data is copied here.
 */
export const auditLog = audit.table(
  "log",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    em: timestamp({ withTimezone: true }).notNull().defaultNow(),
    actor_id: uuid(),
    actor_role: text(),
    tabela: text().notNull(),
    row_id: uuid(),
    operacao: text({ enum: ["INSERT", "UPDATE", "DELETE", "READ"] }).notNull(),
    colunas: text().array(),
  },
  (t) => [index("log_tabela_row_idx").on(t.tabela, t.row_id), index("log_em_idx").on(t.em)],
);

export type AuditLog = typeof auditLog.$inferSelect;
