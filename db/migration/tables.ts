/**
 * The mapping from the legacy schema (db/legacy/schema.sql) to the new one, table by table, as
 * SQL: the source query maps each legacy row to the target's columns (so the rows travel
 * already mapped and the verification can compute the same projection on both sides), and says
 * why a row cannot be migrated when the row alone shows it (a date that is not a date). What only
 * the target can tell (a CPF already taken, an overlapping consulta, a parent in quarantine) is
 * checked there, batch by batch (sync.ts).
 */

export const MIGRATED_TABLES = [
  "fisioterapeutas",
  "exercicios",
  "pacientes",
  "consultas",
  "prontuarios",
  "prescricoes",
] as const;
export type MigratedTableName = (typeof MIGRATED_TABLES)[number];

export function isMigratedTable(name: string): name is MigratedTableName {
  return (MIGRATED_TABLES as readonly string[]).includes(name);
}

export interface ParentKey {
  column: string;
  table: MigratedTableName;
}

/** A target-side refusal checked before the upsert, over the batch `i` (with `i.ord`). */
export interface ConflictCheck {
  motivo: string;
  /** The constraint it stands for (kept in quarentena.detalhe). */
  constraint: string;
  /**
   * Predicates over `i` (one input row) and `i_all` (the whole batch); any true = refuse. Kept
   * apart rather than OR-ed: each EXISTS alone becomes a semi-join, an OR of them a subplan run
   * per row (a 5000-row batch of pacientes took 12.7 s that way, against the whole batch each time).
   */
  sql: readonly string[];
}

export interface MigratedTable {
  name: MigratedTableName;
  /** The legacy table's columns and types (db/legacy/schema.sql), for rows that arrive as JSON
   * (CDC) and are mapped in the target with the same expressions. */
  legacy: string;
  /**
   * Target column → its SQL expression over the legacy row `s`: the columns written and compared
   * (not created_at/updated_at: the target's triggers own them), in order.
   */
  map: Readonly<Record<string, string>>;
  /** The keys of `map`, in order. */
  columns: readonly string[];
  /** A SQL expression over `s`: why the row cannot be migrated, or NULL. */
  reason: string | null;
  /** ON CONFLICT target. */
  conflictKey: readonly string[];
  /** insert-only: the target never updates a row (prontuarios are append-only). */
  mode: "upsert" | "insert-only";
  parents: readonly ParentKey[];
  checks: readonly ConflictCheck[];
}

/** 'DD/MM/YYYY' → date, NULL when empty; the CASE keeps every cast behind its guard. */
const birthDate = (c: string) => `CASE
    WHEN ${c} IS NULL OR btrim(${c}) = '' THEN NULL
    WHEN btrim(${c}) !~ '^[0-9]{2}/[0-9]{2}/[0-9]{4}$' THEN NULL
    WHEN substr(btrim(${c}), 4, 2)::int NOT BETWEEN 1 AND 12 THEN NULL
    WHEN substr(btrim(${c}), 7, 4)::int NOT BETWEEN 1900 AND 2100 THEN NULL
    WHEN substr(btrim(${c}), 1, 2)::int NOT BETWEEN 1 AND extract(day FROM (make_date(substr(btrim(${c}), 7, 4)::int, substr(btrim(${c}), 4, 2)::int, 1) + interval '1 month - 1 day'))::int THEN NULL
    ELSE to_date(btrim(${c}), 'DD/MM/YYYY') END`;

const cpfDigits = (c: string) => `nullif(regexp_replace(coalesce(${c}, ''), '[^0-9]', '', 'g'), '')`;

const STATUS_CONSULTA = `lower(btrim(s.status))`;

const SPECS: Record<MigratedTableName, Omit<MigratedTable, "columns">> = {
  fisioterapeutas: {
    name: "fisioterapeutas",
    legacy: "id uuid, nome text, email text, crefito text, created_at timestamptz, updated_at timestamptz",
    map: {
      id: "s.id",
      nome: "btrim(s.nome)",
      email: "lower(btrim(s.email))",
      crefito: "btrim(s.crefito)",
    },
    reason: null,
    conflictKey: ["id"],
    mode: "upsert",
    parents: [],
    checks: [
      {
        motivo: "email_duplicado",
        constraint: "fisioterapeutas_email_key",
        sql: [
          "EXISTS (SELECT 1 FROM public.fisioterapeutas f WHERE f.email = i.email AND f.id <> i.id)",
          "EXISTS (SELECT 1 FROM i_all j WHERE j.email = i.email AND j.ord < i.ord AND j.id <> i.id)",
        ],
      },
    ],
  },
  exercicios: {
    name: "exercicios",
    legacy:
      "id uuid, nome text, descricao text, categoria text, created_at timestamptz, updated_at timestamptz",
    map: {
      id: "s.id",
      nome: "btrim(s.nome)",
      descricao: "s.descricao",
      categoria: "btrim(s.categoria)",
    },
    reason: null,
    conflictKey: ["id"],
    mode: "upsert",
    parents: [],
    checks: [
      {
        motivo: "nome_duplicado",
        constraint: "exercicios_nome_key",
        sql: [
          "EXISTS (SELECT 1 FROM public.exercicios e WHERE e.nome = i.nome AND e.id <> i.id)",
          "EXISTS (SELECT 1 FROM i_all j WHERE j.nome = i.nome AND j.ord < i.ord AND j.id <> i.id)",
        ],
      },
    ],
  },
  pacientes: {
    name: "pacientes",
    legacy:
      "id uuid, nome text, email text, telefone text, data_nascimento text, cpf text, ativo boolean, fisioterapeuta_id uuid, created_at timestamptz, updated_at timestamptz",
    map: {
      id: "s.id",
      nome: "btrim(s.nome)",
      email: "nullif(lower(btrim(s.email)), '')",
      telefone: "nullif(btrim(s.telefone), '')",
      data_nascimento: birthDate("s.data_nascimento"),
      cpf: cpfDigits("s.cpf"),
      status: "CASE WHEN s.ativo THEN 'ativo' ELSE 'inativo' END",
      fisioterapeuta_id: "s.fisioterapeuta_id",
    },
    reason: `CASE
      WHEN nullif(btrim(s.data_nascimento), '') IS NOT NULL AND (${birthDate("s.data_nascimento")}) IS NULL
        THEN 'data_nascimento_invalida'
      WHEN ${cpfDigits("s.cpf")} IS NOT NULL AND length(${cpfDigits("s.cpf")}) <> 11 THEN 'cpf_invalido'
      END`,
    conflictKey: ["id"],
    mode: "upsert",
    parents: [{ column: "fisioterapeuta_id", table: "fisioterapeutas" }],
    checks: [
      {
        motivo: "cpf_duplicado",
        constraint: "pacientes_cpf_key",
        sql: [
          "i.cpf IS NOT NULL AND EXISTS (SELECT 1 FROM private.pacientes_cpf k WHERE k.cpf = i.cpf AND k.paciente_id <> i.id)",
          "i.cpf IS NOT NULL AND EXISTS (SELECT 1 FROM i_all j WHERE j.cpf = i.cpf AND j.ord < i.ord AND j.id <> i.id)",
        ],
      },
      {
        motivo: "email_duplicado",
        constraint: "pacientes_email_key",
        sql: [
          "i.email IS NOT NULL AND EXISTS (SELECT 1 FROM private.pacientes_email k WHERE k.email = lower(i.email) AND k.paciente_id <> i.id)",
          "i.email IS NOT NULL AND EXISTS (SELECT 1 FROM i_all j WHERE lower(j.email) = lower(i.email) AND j.ord < i.ord AND j.id <> i.id)",
        ],
      },
    ],
  },
  consultas: {
    name: "consultas",
    legacy:
      "id uuid, paciente_id uuid, fisioterapeuta_id uuid, data_hora timestamptz, duracao_min integer, status text, observacoes text, created_at timestamptz, updated_at timestamptz",
    map: {
      id: "s.id",
      paciente_id: "s.paciente_id",
      fisioterapeuta_id: "s.fisioterapeuta_id",
      data_consulta: "s.data_hora",
      duracao_min: "s.duracao_min",
      status: STATUS_CONSULTA,
      observacoes: "s.observacoes",
    },
    reason: `CASE
      WHEN ${STATUS_CONSULTA} NOT IN ('agendada', 'confirmada', 'realizada', 'cancelada', 'falta') THEN 'status_invalido'
      WHEN s.duracao_min NOT BETWEEN 5 AND 480 THEN 'duracao_invalida'
      END`,
    conflictKey: ["id", "data_consulta"],
    mode: "upsert",
    parents: [
      { column: "paciente_id", table: "pacientes" },
      { column: "fisioterapeuta_id", table: "fisioterapeutas" },
    ],
    checks: [
      {
        motivo: "consulta_sobreposta",
        constraint: "consultas_no_overlap",
        sql: [
          `i.status <> 'cancelada' AND EXISTS (SELECT 1 FROM private.consultas_agenda a
             WHERE a.fisioterapeuta_id = i.fisioterapeuta_id AND a.consulta_id <> i.id
               AND a.periodo && private.consulta_periodo(i.status, i.data_consulta, i.duracao_min)
               AND NOT EXISTS (SELECT 1 FROM i_all m WHERE m.id = a.consulta_id))`,
          `i.status <> 'cancelada' AND EXISTS (SELECT 1 FROM i_all j
             WHERE j.fisioterapeuta_id = i.fisioterapeuta_id AND j.ord < i.ord AND j.id <> i.id
               AND j.status <> 'cancelada'
               AND private.consulta_periodo(j.status, j.data_consulta, j.duracao_min)
                   && private.consulta_periodo(i.status, i.data_consulta, i.duracao_min))`,
        ],
      },
    ],
  },
  prontuarios: {
    name: "prontuarios",
    legacy:
      "id uuid, paciente_id uuid, fisioterapeuta_id uuid, consulta_id uuid, conteudo text, created_at timestamptz, updated_at timestamptz",
    map: {
      id: "s.id",
      paciente_id: "s.paciente_id",
      fisioterapeuta_id: "s.fisioterapeuta_id",
      consulta_id: "s.consulta_id",
      conteudo: "s.conteudo",
    },
    reason: null,
    conflictKey: ["id"],
    mode: "insert-only",
    parents: [
      { column: "paciente_id", table: "pacientes" },
      { column: "fisioterapeuta_id", table: "fisioterapeutas" },
    ],
    checks: [
      {
        // The target keeps clinical records append-only: a change made in the source after the
        // record was copied cannot be applied, so it is put aside for a person to look at.
        motivo: "prontuario_alterado_na_origem",
        constraint: "prontuarios_append_only",
        sql: [
          `EXISTS (SELECT 1 FROM public.prontuarios p WHERE p.id = i.id
             AND (p.paciente_id, p.fisioterapeuta_id, p.consulta_id, p.conteudo)
                 IS DISTINCT FROM (i.paciente_id, i.fisioterapeuta_id, i.consulta_id, i.conteudo))`,
        ],
      },
    ],
  },
  prescricoes: {
    name: "prescricoes",
    legacy:
      "id uuid, paciente_id uuid, exercicio_id uuid, fisioterapeuta_id uuid, series integer, repeticoes integer, frequencia text, observacoes text, inicio date, fim date, ativa boolean, created_at timestamptz, updated_at timestamptz",
    map: {
      id: "s.id",
      paciente_id: "s.paciente_id",
      exercicio_id: "s.exercicio_id",
      fisioterapeuta_id: "s.fisioterapeuta_id",
      series: "s.series",
      repeticoes: "s.repeticoes",
      frequencia: "btrim(s.frequencia)",
      observacoes: "s.observacoes",
      inicio: "s.inicio",
      fim: "s.fim",
      ativa: "s.ativa",
    },
    reason: `CASE
      WHEN s.series NOT BETWEEN 1 AND 50 THEN 'series_invalidas'
      WHEN s.repeticoes NOT BETWEEN 1 AND 500 THEN 'repeticoes_invalidas'
      WHEN s.fim IS NOT NULL AND s.fim < s.inicio THEN 'periodo_invalido'
      END`,
    conflictKey: ["id"],
    mode: "upsert",
    parents: [
      { column: "paciente_id", table: "pacientes" },
      { column: "exercicio_id", table: "exercicios" },
      { column: "fisioterapeuta_id", table: "fisioterapeutas" },
    ],
    checks: [],
  },
};

export const TABLES = {} as Record<MigratedTableName, MigratedTable>;
for (const name of MIGRATED_TABLES) TABLES[name] = { ...SPECS[name], columns: Object.keys(SPECS[name].map) };

function projection(t: MigratedTable): string {
  const cols = Object.entries(t.map).map(([column, expr]) => `${expr} AS ${column}`);
  return `SELECT ${cols.join(", ")}, ${t.reason ?? "NULL::text"} AS _motivo, s.updated_at AS _updated_at`;
}

/** The mapped projection of the legacy table: target column names, plus _motivo and the keyset. */
export function mappedSelect(t: MigratedTable): string {
  return `${projection(t)} FROM public.${t.name} s`;
}

/**
 * The same projection over legacy rows given as a JSON array in `param` (e.g. CDC's new tuples):
 * the mapping runs wherever the rows are, with the same expressions (built-in functions only).
 */
export function mappedFromJson(t: MigratedTable, param = "$1"): string {
  return `${projection(t)} FROM json_to_recordset(${param}::json) AS s(${t.legacy})`;
}
