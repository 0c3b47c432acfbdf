/**
 * The schemas of /v1/ops. First the migration's state as GET /v1/ops/migration shows it: what app.estado_migracao() (migration
 * 0014) returns, keys as it names them (snake_case, Portuguese). Ids, counts, timestamps and
 * reasons only: a quarantined row's values never leave the source, and its `detalhe` is not shown.
 * Parsing the function's answer with these schemas also drops any key they do not name, so a
 * column added to the function later is not published until it is documented here.
 */
import { z } from "@hono/zod-openapi";
import { isComputeSize } from "../../../jobs/neon/policy";

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

// ------------------------------------------------------------------------------------------------
// The Neon control plane (/v1/ops/branches, /replicas, /backups, /restore): Neon's ids, names,
// states, hosts and limits only. No password, no connection string: jobs/neon/api.ts's views
// carry none, and these schemas name none.

const neonTime = z
  .string()
  .openapi({ description: "ISO 8601, as Neon gives it", example: "2026-03-01T12:00:00Z" });
const branchId = z.string().openapi({ example: "br-quiet-river-1a2b3c4d" });
const endpointId = z.string().openapi({ example: "ep-misty-lake-5e6f7a8b" });
const neonState = z.string().openapi({ description: "Neon's current_state", example: "ready" });
const cu = z.number().openapi({ description: "Compute units: 0.25, 0.5, then whole units" });

const limitFields = {
  autoscaling_limit_min_cu: cu,
  autoscaling_limit_max_cu: cu,
  suspend_timeout_seconds: z
    .number()
    .int()
    .openapi({ description: "Idle seconds before the compute suspends (0: Neon's default, -1: never)" }),
};

export const PolicyDrift = z
  .object({
    field: z.enum(["autoscaling_limit_min_cu", "autoscaling_limit_max_cu", "suspend_timeout_seconds"]),
    want: z.number().openapi({ description: "The policy's value" }),
    have: z.number().nullable().openapi({ description: "The endpoint's value (null: unset)" }),
  })
  .openapi("PolicyDrift", { description: "One setting where an endpoint differs from its branch's policy" });

export const BranchEndpoint = z
  .object({
    id: endpointId,
    host: z.string().openapi({ description: "The endpoint's host (public; credentials are never shown)" }),
    state: neonState,
    ...limitFields,
    drift: z.array(PolicyDrift).openapi({
      description: "Where the limits differ from the branch's policy: [] when they match or unmanaged",
    }),
  })
  .openapi("BranchEndpoint", { description: "A branch's read_write endpoint" });

const branchRef = z
  .object({ id: branchId, name: z.string().nullable().openapi({ description: "null: no longer exists" }) })
  .openapi({ description: "A branch by id and name" });

export const NeonBranch = z
  .object({
    id: branchId,
    name: z.string().openapi({ example: "staging" }),
    parent: branchRef.nullable().openapi({ description: "The branch it was created from; null: the root" }),
    state: neonState,
    default: z.boolean().openapi({ description: "The project's default branch (main)" }),
    protected: z.boolean(),
    created_at: neonTime,
    expires_at: neonTime.nullable().openapi({ description: "When Neon deletes it (feature branches)" }),
    policy: z.string().nullable().openapi({
      description:
        "The branch policy it falls under (main, staging, development, feature/*); null: unmanaged",
    }),
    endpoint: BranchEndpoint.nullable().openapi({ description: "Its read_write endpoint; null: none" }),
    replicas: z
      .number()
      .int()
      .min(0)
      .openapi({ description: "Its read_only endpoints (GET /v1/ops/replicas)" }),
  })
  .openapi("NeonBranch");
export type NeonBranch = z.infer<typeof NeonBranch>;

export const NeonBranchList = z.object({ data: z.array(NeonBranch) }).openapi("NeonBranchList");

export const CreateNeonBranch = z
  .object({
    name: z
      .string()
      .min(1)
      .max(80)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, "letters, digits, '.', '_', '-' and '/'")
      .openapi({
        description: "staging, development or feature/<name> (lower case, digits, '.', '_', '-'); never main",
        example: "feature/agenda-v2",
      }),
  })
  .strict()
  .openapi("CreateNeonBranch");

export const BranchRefParam = z.object({
  ref: z
    .string()
    .min(1)
    .max(256)
    .openapi({
      param: { name: "ref", in: "path" },
      description: "The branch's id or name, URL-encoded (feature/x is feature%2Fx)",
      example: "feature%2Fagenda-v2",
    }),
});

export const DeletedNeonBranch = z
  .object({ id: branchId, name: z.string(), deleted: z.literal(true) })
  .openapi("DeletedNeonBranch");

export const Replica = z
  .object({
    id: endpointId,
    branch: branchRef,
    host: z.string().openapi({ description: "The replica's host (public; credentials are never shown)" }),
    state: neonState,
    ...limitFields,
  })
  .openapi("Replica", { description: "A read replica: a read_only endpoint of a branch" });
export type Replica = z.infer<typeof Replica>;

export const ReplicaList = z.object({ data: z.array(Replica) }).openapi("ReplicaList");

const computeSize = z
  .number()
  .refine(isComputeSize, "a compute size: 0.25, 0.5 or a whole number from 1 to 56");

export const CreateReplica = z
  .object({
    branch: z.string().min(1).max(256).optional().openapi({
      description: "The branch's id or name; default: the default branch (main)",
      example: "main",
    }),
    min_cu: computeSize.openapi({ example: 0.25 }),
    max_cu: computeSize.openapi({ example: 2 }),
    suspend_timeout_seconds: z.number().int().min(-1).max(604_800).optional(),
  })
  .strict()
  .refine((r) => r.min_cu <= r.max_cu, { message: "min_cu must not exceed max_cu", path: ["max_cu"] })
  .refine((r) => r.max_cu - r.min_cu <= 8, {
    message: "the autoscaling range (max_cu - min_cu) must not exceed 8",
    path: ["max_cu"],
  })
  .openapi("CreateReplica");

export const EndpointIdParam = z.object({
  endpoint_id: z
    .string()
    .regex(/^ep-[a-z0-9-]{1,80}$/, "a Neon endpoint id (ep-...)")
    .openapi({ param: { name: "endpoint_id", in: "path" }, example: "ep-misty-lake-5e6f7a8b" }),
});

export const DeletedReplica = z
  .object({ id: endpointId, branch_id: branchId, deleted: z.literal(true) })
  .openapi("DeletedReplica");

export const Backup = z
  .object({
    id: branchId,
    name: z.string().openapi({ example: "backup/2026-03-01T03-00-00Z" }),
    time: z
      .string()
      .nullable()
      .openapi({ description: "The time its name gives (UTC); null: not a backup name" }),
    created_at: neonTime,
    state: neonState,
    retention: z.enum(["keep", "delete", "ignored"]).openapi({
      description:
        "What retention would do with it now: keep, delete, or ignored (a backup/ name that is not a backup's)",
    }),
  })
  .openapi("Backup", { description: "A backup branch of main" });

export const BackupList = z
  .object({
    retention: z
      .object({ daily: z.number().int(), weekly: z.number().int() })
      .openapi({ description: "BACKUP_KEEP_DAILY / BACKUP_KEEP_WEEKLY" }),
    data: z.array(Backup).openapi({ description: "Newest first" }),
  })
  .openapi("BackupList");

export const RestoreRequest = z
  .object({
    backup: z
      .string()
      .max(256)
      .regex(/^backup\//, "must name a backup branch (backup/...)")
      .optional()
      .openapi({ description: "Restore from this backup branch", example: "backup/2026-03-01T03-00-00Z" }),
    timestamp: z.iso.datetime({ offset: true }).optional().openapi({
      description: "Restore to this point in time (Neon's history window)",
      example: "2026-03-01T11:55:00Z",
    }),
  })
  .strict()
  .refine((r) => (r.backup === undefined) !== (r.timestamp === undefined), {
    message: "give exactly one of backup or timestamp",
  })
  .openapi("RestoreRequest");

export const RestoreResult = z
  .object({
    branch: branchRef.openapi({ description: "The branch restored: the default branch (main)" }),
    source: z.object({
      backup: branchRef.nullable(),
      timestamp: z.string().nullable(),
    }),
    preserved: z
      .object({
        id: z.string().nullable(),
        name: z.string().openapi({ example: "pre-restore/20260301T120000Z" }),
      })
      .openapi({ description: "The branch that keeps main's state from before the restore" }),
  })
  .openapi("RestoreResult");
