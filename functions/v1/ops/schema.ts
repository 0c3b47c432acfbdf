/**
 * The migration's state as GET /v1/ops/migration shows it: what app.estado_migracao() (migration
 * 0014) returns, keys as it names them (snake_case, Portuguese). Ids, counts, timestamps and
 * reasons only: a quarantined row's values never leave the source, and its `detalhe` is not shown.
 * Parsing the function's answer with these schemas also drops any key they do not name, so a
 * column added to the function later is not published until it is documented here.
 */
import { z } from "@hono/zod-openapi";

/** A timestamptz as PostgreSQL writes it in JSON: ISO 8601 with the offset, microseconds kept. */
const timestamp = z.iso.datetime({ offset: true }).openapi({ example: "2025-03-01T12:00:00.123456+00:00" });
const count = z.number().int().min(0);

export const FaseMigracao = z
  .enum(["pendente", "bulk", "sync", "cdc", "verificada"])
  .openapi("FaseMigracao", { description: "The table's phase in the migration" });

const LadoVerificacao = z
  .object({
    count: count.openapi({ description: "Rows compared (quarantined rows left out)" }),
    checksum: z
      .string()
      .regex(/^-?\d+$/)
      .openapi({ description: "Order-independent checksum over the mapped columns (a decimal bigint)" }),
  })
  .openapi("LadoVerificacao");

export const VerificacaoMigracao = z
  .object({
    source: LadoVerificacao,
    target: LadoVerificacao,
    quarantined: count.openapi({ description: "Rows in quarantine, left out on both sides" }),
    ok: z.boolean().openapi({ description: "Both sides have the same count and checksum" }),
  })
  .openapi("VerificacaoMigracao", { description: "The last verification, source against target" });

export const TabelaMigracao = z
  .object({
    tabela: z.string().openapi({ example: "pacientes" }),
    fase: FaseMigracao,
    watermark: z.object({ updated_at: timestamp, id: z.uuid() }).nullable().openapi({
      description: "Keyset (updated_at, id) of the last source row applied; null before the first",
    }),
    linhas_aplicadas: count.openapi({ description: "Source rows applied to the target" }),
    lotes: count.openapi({ description: "Batches run" }),
    quarentena: count.openapi({ description: "Rows in quarantine now" }),
    quarentena_por_motivo: z.record(z.string(), count).openapi({
      description: "Rows in quarantine now, per reason ({} when none)",
      example: { email_duplicado: 2, cpf_duplicado: 1 },
    }),
    lag_segundos: z.number().nullable().openapi({
      description: "How far the target was behind the source's horizon when the last batch ended",
    }),
    ultima_execucao: timestamp.nullable().openapi({ description: "When the last batch ended" }),
    verificacao: VerificacaoMigracao.nullable(),
    verificado_em: timestamp.nullable().openapi({ description: "When the last verification ran" }),
  })
  .openapi("TabelaMigracao");

export const CdcMigracao = z
  .object({
    slot: z.string().openapi({ description: "The logical replication slot on the source" }),
    applied_lsn: z
      .string()
      .regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/)
      .nullable()
      .openapi({
        description: "Commit LSN of the last source transaction applied; null before the first",
        example: "0/16B3748",
      }),
    transacoes: count.openapi({ description: "Source transactions applied" }),
    alteracoes: count.openapi({ description: "Row changes applied" }),
    lag_bytes: count.nullable().openapi({ description: "WAL the slot still holds for the migration" }),
    lag_segundos: z.number().nullable().openapi({ description: "Age of the oldest change not yet applied" }),
    ultima_execucao: timestamp.nullable().openapi({ description: "When the last CDC run ended" }),
  })
  .openapi("CdcMigracao");

export const EstadoMigracao = z
  .object({
    tabelas: z.array(TabelaMigracao).openapi({ description: "One entry per migrated table, by name" }),
    cdc: z.array(CdcMigracao).openapi({ description: "One entry per replication slot, by name" }),
  })
  .openapi("EstadoMigracao");
export type EstadoMigracao = z.infer<typeof EstadoMigracao>;
