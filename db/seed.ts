/**
 * Seeds a clinic (CLI: scripts/seed.ts, `npm run db:seed -- --pacientes 10000`). Runs as the owner under the 'system' identity (RLS is forced on the owner
 * too), creates the consultas partitions the data needs first, then bulk-inserts with one
 * `INSERT ... SELECT FROM unnest($1::uuid[], ...)` per batch (one parameter per column, so a
 * batch is not bounded by the 65 535-parameter limit of multi-row VALUES).
 */
import type { Queryable } from "./owner-client";
import { ensurePartitions, PARTITION_MONTHS_AHEAD } from "./partitions";
import { buildSeedPlan, type SeedPlan } from "./seed-data";
import { SYSTEM_SQL } from "./session";

export interface SeedOptions {
  pacientes: number;
  seed?: number;
  now?: Date;
  consultasPorPaciente?: number;
  batchSize?: number;
  log?: (line: string) => void;
}

export interface SeedReport {
  counts: Record<string, number>;
  ms: number;
}

type Column = [name: string, pgType: string];

async function insertBatches(
  db: Queryable,
  table: string,
  columns: Column[],
  rows: Record<string, unknown>[],
  batchSize: number,
  log: (line: string) => void,
): Promise<void> {
  const cols = columns.map(([c]) => c).join(", ");
  const args = columns.map(([, t], i) => `$${i + 1}::${t}[]`).join(", ");
  const text = `INSERT INTO ${table} (${cols}) SELECT * FROM unnest(${args})`;
  for (let i = 0; i < rows.length; i += batchSize) {
    const batch = rows.slice(i, i + batchSize);
    const params = columns.map(([c]) => batch.map((r) => (r[c] === undefined ? null : r[c])));
    await db.query("BEGIN");
    try {
      await db.query(SYSTEM_SQL);
      await db.query(text, params);
      await db.query("COMMIT");
    } catch (err) {
      await db.query("ROLLBACK").catch(() => {});
      throw err;
    }
    const done = Math.min(i + batchSize, rows.length);
    if (done === rows.length || (i / batchSize) % 10 === 0) log(`  ${table}: ${done}/${rows.length}`);
  }
}

export async function seed(db: Queryable, opts: SeedOptions): Promise<SeedReport> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  const batch = opts.batchSize ?? 2000;
  // One reference instant for the plan and its partitions.
  const now = opts.now ?? new Date();
  const plan: SeedPlan = buildSeedPlan({ ...opts, now });
  const { from } = plan.window;
  const behind =
    (now.getUTCFullYear() - from.getUTCFullYear()) * 12 + (now.getUTCMonth() - from.getUTCMonth());
  const partitions = await ensurePartitions(db, {
    now,
    monthsBehind: behind,
    monthsAhead: PARTITION_MONTHS_AHEAD,
  });
  log(`partitions: ${partitions.created.length} created, coverage until ${partitions.coverageUntil}`);
  for (const f of partitions.failed)
    log(`partitions: ${f.name} not created (${f.code ?? "error"}): ${f.error}`);

  // Parents before children (foreign keys); corrections after the rows they correct.
  const tables: [table: string, columns: Column[], rows: Record<string, unknown>[]][] = [
    [
      "public.fisioterapeutas",
      [
        ["id", "uuid"],
        ["nome", "text"],
        ["email", "text"],
        ["crefito", "text"],
      ],
      plan.fisioterapeutas,
    ],
    [
      "public.pacientes",
      [
        ["id", "uuid"],
        ["nome", "text"],
        ["email", "text"],
        ["telefone", "text"],
        ["data_nascimento", "date"],
        ["cpf", "text"],
        ["status", "text"],
        ["fisioterapeuta_id", "uuid"],
      ],
      plan.pacientes,
    ],
    [
      "public.exercicios",
      [
        ["id", "uuid"],
        ["nome", "text"],
        ["descricao", "text"],
        ["categoria", "text"],
      ],
      plan.exercicios,
    ],
    [
      "public.consultas",
      [
        ["id", "uuid"],
        ["paciente_id", "uuid"],
        ["fisioterapeuta_id", "uuid"],
        ["data_consulta", "timestamptz"],
        ["duracao_min", "int"],
        ["status", "text"],
        ["observacoes", "text"],
      ],
      plan.consultas,
    ],
    [
      "public.prontuarios",
      [
        ["id", "uuid"],
        ["paciente_id", "uuid"],
        ["fisioterapeuta_id", "uuid"],
        ["consulta_id", "uuid"],
        ["conteudo", "text"],
      ],
      plan.prontuarios,
    ],
    [
      "public.prontuarios",
      [
        ["id", "uuid"],
        ["corrige_id", "uuid"],
        ["paciente_id", "uuid"],
        ["fisioterapeuta_id", "uuid"],
        ["conteudo", "text"],
      ],
      plan.correcoes,
    ],
    [
      "public.prescricoes",
      [
        ["id", "uuid"],
        ["paciente_id", "uuid"],
        ["exercicio_id", "uuid"],
        ["fisioterapeuta_id", "uuid"],
        ["series", "int"],
        ["repeticoes", "int"],
        ["frequencia", "text"],
        ["inicio", "date"],
      ],
      plan.prescricoes,
    ],
  ];
  for (const [table, columns, rows] of tables) await insertBatches(db, table, columns, rows, batch, log);
  // Fresh statistics so the planner uses the indexes right away.
  await db.query("ANALYZE public.pacientes, public.consultas, public.prontuarios, public.prescricoes");

  const counts = {
    fisioterapeutas: plan.fisioterapeutas.length,
    pacientes: plan.pacientes.length,
    exercicios: plan.exercicios.length,
    consultas: plan.consultas.length,
    prontuarios: plan.prontuarios.length + plan.correcoes.length,
    prescricoes: plan.prescricoes.length,
  };
  return { counts, ms: Date.now() - started };
}
