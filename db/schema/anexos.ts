import { sql } from "drizzle-orm";
import {
  bigint,
  check,
  foreignKey,
  index,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { fisioterapeutas } from "./fisioterapeutas";
import { prontuarios } from "./prontuarios";

/**
 * Prontuario attachments (0018): the bytes are in the R2 bucket FILES under `r2_key`
 * (`anexos/<prontuario_id>/<id>`, no personal data); this is their description. Append-only like
 * prontuarios: a trigger refuses UPDATE and DELETE for every role, except clearing `nome_arquivo`
 * when the paciente is anonymised (app.anonimizar_paciente). `paciente_id` is the prontuario's
 * (a composite foreign key holds it), for the policies.
 */
export const anexos = pgTable(
  "anexos",
  {
    id: uuid().primaryKey().defaultRandom(),
    prontuario_id: uuid().notNull(),
    paciente_id: uuid().notNull(),
    fisioterapeuta_id: uuid()
      .notNull()
      .references(() => fisioterapeutas.id),
    nome_arquivo: text(),
    content_type: text({ enum: ["application/pdf", "image/jpeg", "image/png", "image/webp"] }).notNull(),
    tamanho: bigint({ mode: "number" }).notNull(),
    sha256: text().notNull(),
    r2_key: text().notNull(),
    created_at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      name: "anexos_prontuario_paciente_fk",
      columns: [t.prontuario_id, t.paciente_id],
      foreignColumns: [prontuarios.id, prontuarios.paciente_id],
    }),
    unique("anexos_r2_key_key").on(t.r2_key),
    index("anexos_prontuario_idx").on(t.prontuario_id, t.created_at, t.id),
    index("anexos_paciente_idx").on(t.paciente_id),
    check("anexos_sha256_check", sql`${t.sha256} ~ '^[0-9a-f]{64}$'`),
    check("anexos_tamanho_check", sql`${t.tamanho} BETWEEN 1 AND 104857600`),
  ],
);

export type Anexo = typeof anexos.$inferSelect;
