/**
 * Deterministic generator of realistic data for the legacy PostgreSQL (db/legacy/schema.sql), the
 * source the migration to Neon is developed and measured against (CLI: scripts/legacy-generate.ts).
 *
 * Same seed and size, same rows, uuids included: every value comes from a seeded PRNG (sfc32, one
 * stream per table so one table's draws never shift another's) and dates from a fixed epoch.
 * Only created_at / updated_at differ between runs: the table trigger sets them.
 *
 * The data carries, on purpose, the anomalies the new schema refuses (duplicate CPF, impossible
 * dates of birth, double-booked fisioterapeutas), about 0.5% each, and the report lists their
 * ids so the migration's quarantine can be checked against it. Apart from those, the data is
 * clean: CPFs valid and unique, dates real, each fisioterapeuta's agenda free of overlaps.
 */
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

export interface LegacySizes {
  fisioterapeutas: number;
  pacientes: number;
  exercicios: number;
  consultasPorPaciente: number;
  prontuariosPorPaciente: number;
  prescricoesPorPaciente: number;
}

export interface LegacyReport {
  seed: number;
  rows: Record<string, number>;
  anomalies: {
    /** pacientes whose CPF repeats an earlier paciente's (the later row of each pair) */
    cpfDuplicado: string[];
    /** pacientes whose data_nascimento is not a real DD/MM/YYYY date */
    dataInvalida: string[];
    /** consultas overlapping an earlier non-cancelled consulta of the same fisioterapeuta */
    consultaSobreposta: string[];
  };
}

export interface GenerateOptions {
  pacientes: number;
  seed?: number;
  /** Called with 0 when a table starts loading and with its row count when it is loaded. */
  onProgress?: (table: string, rows: number) => void;
}

export type LegacyClient = pg.Client | pg.PoolClient;

/** Dependency order: parents before the children that reference them. */
export const LEGACY_TABLES = [
  "fisioterapeutas",
  "exercicios",
  "pacientes",
  "consultas",
  "prontuarios",
  "prescricoes",
] as const;
export type LegacyTable = (typeof LEGACY_TABLES)[number];

export const DEFAULT_LEGACY_SEED = 42;

/** A Monday; the agenda runs for a year from it. */
export const LEGACY_EPOCH = new Date("2026-01-05T08:00:00Z");

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
// America/Sao_Paulo has been UTC-3 all year since DST was abolished in 2019.
const SAO_PAULO_OFFSET_MS = -3 * HOUR_MS;
const AGENDA_DAYS = 365;
// The legacy system's "today": consultas before it took place (or not), later ones are booked.
const SNAPSHOT_MS = Date.UTC(2026, 6, 6) - SAO_PAULO_OFFSET_MS;

export function legacySizes(pacientes: number): LegacySizes {
  return {
    fisioterapeutas: Math.max(2, Math.round(pacientes / 50)),
    pacientes,
    exercicios: EXERCICIOS.length,
    consultasPorPaciente: 4,
    prontuariosPorPaciente: 2,
    prescricoesPorPaciente: 1,
  };
}

/**
 * How many rows of one anomaly kind a table of `rows` rows gets: 0.5%, and at least one once the
 * data set has 100 pacientes (so every realistic run exercises the quarantine).
 */
export function anomalyCount(rows: number, pacientes: number): number {
  const n = Math.round(rows * 0.005);
  return pacientes >= 100 ? Math.max(1, n) : n;
}

export async function installLegacySchema(client: LegacyClient): Promise<void> {
  const sql = await readFile(new URL("./schema.sql", import.meta.url), "utf8");
  await client.query(sql);
}

/** The first legacy table that has rows, or null when all are empty. */
export async function firstNonEmptyTable(client: LegacyClient): Promise<LegacyTable | null> {
  const union = LEGACY_TABLES.map(
    (t) => `SELECT '${t}' AS t, ${LEGACY_TABLES.indexOf(t)} AS o
     WHERE EXISTS (SELECT 1 FROM ${t})`,
  ).join(" UNION ALL ");
  const { rows } = await client.query<{ t: LegacyTable }>(`SELECT t FROM (${union}) x ORDER BY o LIMIT 1`);
  return rows[0]?.t ?? null;
}

/**
 * Fills an empty legacy database (schema installed) in one transaction, with one COPY per table:
 * a failure leaves it empty.
 */
export async function generateLegacy(client: LegacyClient, opts: GenerateOptions): Promise<LegacyReport> {
  const plan = buildLegacyPlan(opts);
  const progress = opts.onProgress ?? (() => {});
  await client.query("BEGIN");
  try {
    const nonEmpty = await firstNonEmptyTable(client);
    if (nonEmpty) throw new Error(`legacy database is not empty: ${nonEmpty} has rows`);
    for (const t of plan.tables) {
      progress(t.table, 0);
      await copyRows(client, t);
      progress(t.table, t.rows.length);
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
  return plan.report;
}

// ------------------------------------------------------------------------------------------------
// The plan: every row, computed in memory (pure, no I/O).

type Cell = string | number | boolean | null;

export interface LegacyTablePlan {
  table: LegacyTable;
  columns: readonly string[];
  rows: Cell[][];
}

export interface LegacyPlan {
  sizes: LegacySizes;
  tables: LegacyTablePlan[];
  report: LegacyReport;
}

interface Consulta {
  id: string;
  paciente: number;
  fisio: number;
  inicio: number;
  duracao: number;
  status: string;
  observacoes: string | null;
  sobreposta: boolean;
}

export function buildLegacyPlan(opts: { pacientes: number; seed?: number }): LegacyPlan {
  const seed = opts.seed ?? DEFAULT_LEGACY_SEED;
  if (!Number.isInteger(opts.pacientes) || opts.pacientes < 1)
    throw new Error(`pacientes must be a positive integer, got ${opts.pacientes}`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const sizes = legacySizes(opts.pacientes);
  const P = sizes.pacientes;
  const F = sizes.fisioterapeutas;

  // fisioterapeutas ------------------------------------------------------------------------------
  const rf = new Rng(seed, "fisioterapeutas");
  const fisioEmails = new Set<string>();
  const crefitos = new Set<number>();
  const fisioIds: string[] = [];
  const fisioRows: Cell[][] = [];
  for (let i = 0; i < F; i++) {
    const id = rf.uuid();
    const nome = personName(rf);
    const email = uniqueEmail(fisioEmails, emailLocal(rf, nome, false), "fisioflow.com.br");
    let numero: number;
    do numero = rf.int(10_000, 399_999);
    while (crefitos.has(numero));
    crefitos.add(numero);
    fisioIds.push(id);
    fisioRows.push([id, nome, email, `CREFITO-3/${String(numero).padStart(6, "0")}-F`]);
  }

  // exercicios -----------------------------------------------------------------------------------
  const re = new Rng(seed, "exercicios");
  const exercicioIds: string[] = [];
  const exercicioRows: Cell[][] = [];
  for (const [nome, categoria, regiao] of EXERCICIOS) {
    const id = re.uuid();
    exercicioIds.push(id);
    const descricao = re.chance(0.1)
      ? null
      : `${re.pick(DESCRICOES[categoria])} Foco: ${regiao}.${re.chance(0.4) ? ` ${re.pick(DICAS)}` : ""}`;
    exercicioRows.push([id, nome, descricao, categoria]);
  }

  // pacientes ------------------------------------------------------------------------------------
  const ra = new Rng(seed, "anomalias");
  // Index 0 is never an anomaly, so a duplicate always has a clean earlier paciente to copy.
  const dupIdx = sampleIndices(ra, anomalyCount(P, P), 1, P, new Set());
  const badIdx = sampleIndices(ra, anomalyCount(P, P), 1, P, dupIdx);

  const rp = new Rng(seed, "pacientes");
  const pacienteIds: string[] = [];
  const pacienteFisio: number[] = [];
  const pacienteRows: Cell[][] = [];
  const nomes: string[] = [];
  const nascimentos: (string | null)[] = [];
  const cpfDigits: string[] = [];
  const cpfsUsed = new Set<string>();
  const pacienteEmails = new Set<string>();
  for (let i = 0; i < P; i++) {
    const id = rp.uuid();
    const fisio = rp.int(0, F - 1);
    let nome: string;
    let nascimento: string | null;
    let cpf: string;
    if (dupIdx.has(i)) {
      // The same person registered twice: same name, birth date and CPF, new contact details.
      let j = rp.int(0, i - 1);
      for (let tries = 0; dupIdx.has(j) || badIdx.has(j); tries++) j = tries < 20 ? rp.int(0, i - 1) : 0;
      nome = nomes[j]!;
      nascimento = nascimentos[j] ?? null;
      cpf = cpfDigits[j]!;
    } else {
      nome = personName(rp);
      nascimento = badIdx.has(i) ? invalidDate(rp) : rp.chance(0.02) ? null : birthDate(rp);
      do cpf = randomCpf(rp);
      while (cpfsUsed.has(cpf));
      cpfsUsed.add(cpf);
    }
    nomes.push(nome);
    nascimentos.push(nascimento);
    cpfDigits.push(cpf);
    const year = nascimento?.match(/\d{4}$/)?.[0];
    const email = rp.chance(0.03)
      ? null
      : uniqueEmail(pacienteEmails, emailLocal(rp, nome, true, year), rp.pick(EMAIL_DOMAINS));
    const telefone = rp.chance(0.05) ? null : telefoneCelular(rp);
    pacienteIds.push(id);
    pacienteFisio.push(fisio);
    pacienteRows.push([
      id,
      nome,
      email,
      telefone,
      nascimento,
      rp.chance(0.5) ? formatCpf(cpf) : cpf,
      rp.chance(0.9),
      fisioIds[fisio]!,
    ]);
  }

  // consultas ------------------------------------------------------------------------------------
  const rc = new Rng(seed, "consultas");
  const slots = agendaSlots();
  const agenda = Array.from({ length: F }, () => new Uint8Array(slots.length));
  const takeSlot = (fisio: number): number => {
    const used = agenda[fisio]!;
    let s = rc.int(0, slots.length - 1);
    // A crowded agenda: after a few misses, the next free slot after a random one.
    for (let tries = 0; used[s] && tries < 64; tries++) s = rc.int(0, slots.length - 1);
    for (let k = 0; used[s] && k < slots.length; k++) s = (s + 1) % slots.length;
    if (used[s]) throw new Error(`fisioterapeuta ${fisio} has no free slot left in the year`);
    used[s] = 1;
    return slots[s]!;
  };
  const totalConsultas = P * sizes.consultasPorPaciente;
  const nSobrepostas = anomalyCount(totalConsultas, P);
  const porPaciente = distribute(rc, totalConsultas - nSobrepostas, P, 1);
  const consultas: Consulta[] = [];
  for (let p = 0; p < P; p++) {
    for (let k = 0; k < porPaciente[p]!; k++) {
      // Mostly the paciente's own fisioterapeuta; sometimes a colleague covers.
      const fisio = F > 1 && rc.chance(0.1) ? (pacienteFisio[p]! + rc.int(1, F - 1)) % F : pacienteFisio[p]!;
      const inicio = takeSlot(fisio);
      const status = consultaStatus(rc, inicio, true);
      consultas.push({
        id: rc.uuid(),
        paciente: p,
        fisio,
        inicio,
        duracao: rc.chance(0.8) ? 50 : rc.pick([30, 60]),
        status,
        observacoes: rc.chance(0.6) ? null : rc.pick(status === "CANCELADA" ? OBS_CANCELADA : OBS_CONSULTA),
        sobreposta: false,
      });
    }
  }
  // Double bookings: a consulta inside the hour of an earlier, non-cancelled one of the same
  // fisioterapeuta (never reaching the next hour, so it overlaps that one consulta only).
  const pacientesDoFisio = Array.from({ length: F }, () => [] as number[]);
  pacienteFisio.forEach((f, p) => {
    pacientesDoFisio[f]!.push(p);
  });
  const partners = new Set<Consulta>();
  const candidates = consultas.filter((c) => c.status !== "CANCELADA");
  if (candidates.length < nSobrepostas) throw new Error("too few consultas to double-book");
  for (let k = 0; k < nSobrepostas; k++) {
    let alvo: Consulta;
    do alvo = rc.pick(candidates);
    while (partners.has(alvo));
    partners.add(alvo);
    // Starts before the other one ends ('[)' ranges: touching is no overlap).
    const offset = rc.pick([0, 15, 30].filter((o) => o < alvo.duracao));
    const mesmos = pacientesDoFisio[alvo.fisio]!;
    const inicio = alvo.inicio + offset * 60_000;
    const sobreposta: Consulta = {
      id: rc.uuid(),
      paciente: mesmos.length ? rc.pick(mesmos) : rc.int(0, P - 1),
      fisio: alvo.fisio,
      inicio,
      duracao: offset === 0 ? 50 : 30,
      status: consultaStatus(rc, inicio, false),
      observacoes: rc.chance(0.5) ? null : "Encaixe.",
      sobreposta: true,
    };
    // Inserted somewhere after the consulta it collides with (the migration sees it second).
    const at = rc.int(consultas.indexOf(alvo) + 1, consultas.length);
    consultas.splice(at, 0, sobreposta);
  }
  const consultasDoPaciente = Array.from({ length: P }, () => [] as Consulta[]);
  for (const c of consultas) consultasDoPaciente[c.paciente]!.push(c);

  // prontuarios ----------------------------------------------------------------------------------
  const rr = new Rng(seed, "prontuarios");
  const prontuarioRows: Cell[][] = [];
  const prontuariosPorPaciente = distribute(rr, P * sizes.prontuariosPorPaciente, P, 0);
  for (let p = 0; p < P; p++) {
    // Notes of sessions that took place; a double booking is never documented (it is quarantined).
    const realizadas = rr.shuffle(
      consultasDoPaciente[p]!.filter((c) => c.status === "REALIZADA" && !c.sobreposta),
    );
    for (let k = 0; k < prontuariosPorPaciente[p]!; k++) {
      const consulta = k < realizadas.length && rr.chance(0.85) ? realizadas[k]! : null;
      const fisio = consulta ? consulta.fisio : pacienteFisio[p]!;
      prontuarioRows.push([
        rr.uuid(),
        pacienteIds[p]!,
        fisioIds[fisio]!,
        consulta?.id ?? null,
        clinicalNote(rr),
      ]);
    }
  }

  // prescricoes ----------------------------------------------------------------------------------
  const rx = new Rng(seed, "prescricoes");
  const prescricaoRows: Cell[][] = [];
  const prescricoesPorPaciente = distribute(rx, P * sizes.prescricoesPorPaciente, P, 0);
  for (let p = 0; p < P; p++) {
    const n = Math.min(prescricoesPorPaciente[p]!, exercicioIds.length);
    const exercicios = rx.shuffle(exercicioIds.map((_, i) => i)).slice(0, n);
    for (const e of exercicios) {
      const doPaciente = consultasDoPaciente[p]!;
      // Usually prescribed on a session's day.
      const inicioMs = doPaciente.length
        ? rx.pick(doPaciente).inicio
        : LEGACY_EPOCH.getTime() + rx.int(0, AGENDA_DAYS - 1) * DAY_MS;
      const fimMs = rx.chance(0.4) ? null : inicioMs + rx.int(14, 120) * DAY_MS;
      prescricaoRows.push([
        rx.uuid(),
        pacienteIds[p]!,
        exercicioIds[e]!,
        fisioIds[pacienteFisio[p]!]!,
        rx.int(1, 5),
        rx.int(5, 20),
        rx.pick(FREQUENCIAS),
        rx.chance(0.7) ? null : rx.pick(OBS_PRESCRICAO),
        localDate(inicioMs),
        fimMs === null ? null : localDate(fimMs),
        fimMs === null ? rx.chance(0.85) : fimMs >= SNAPSHOT_MS,
      ]);
    }
  }

  const tables: LegacyTablePlan[] = [
    { table: "fisioterapeutas", columns: ["id", "nome", "email", "crefito"], rows: fisioRows },
    { table: "exercicios", columns: ["id", "nome", "descricao", "categoria"], rows: exercicioRows },
    {
      table: "pacientes",
      columns: ["id", "nome", "email", "telefone", "data_nascimento", "cpf", "ativo", "fisioterapeuta_id"],
      rows: pacienteRows,
    },
    {
      table: "consultas",
      columns: [
        "id",
        "paciente_id",
        "fisioterapeuta_id",
        "data_hora",
        "duracao_min",
        "status",
        "observacoes",
      ],
      rows: consultas.map((c) => [
        c.id,
        pacienteIds[c.paciente]!,
        fisioIds[c.fisio]!,
        new Date(c.inicio).toISOString(),
        c.duracao,
        c.status,
        c.observacoes,
      ]),
    },
    {
      table: "prontuarios",
      columns: ["id", "paciente_id", "fisioterapeuta_id", "consulta_id", "conteudo"],
      rows: prontuarioRows,
    },
    {
      table: "prescricoes",
      columns: [
        "id",
        "paciente_id",
        "exercicio_id",
        "fisioterapeuta_id",
        "series",
        "repeticoes",
        "frequencia",
        "observacoes",
        "inicio",
        "fim",
        "ativa",
      ],
      rows: prescricaoRows,
    },
  ];
  const inOrder = (set: Set<number>) => [...set].sort((a, b) => a - b).map((i) => pacienteIds[i]!);
  return {
    sizes,
    tables,
    report: {
      seed,
      rows: Object.fromEntries(tables.map((t) => [t.table, t.rows.length])),
      anomalies: {
        cpfDuplicado: inOrder(dupIdx),
        dataInvalida: inOrder(badIdx),
        consultaSobreposta: consultas.filter((c) => c.sobreposta).map((c) => c.id),
      },
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Loading: COPY in text format.

function copyValue(v: Cell): string {
  if (v === null) return "\\N";
  if (typeof v === "string") return v.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!);
  if (typeof v === "boolean") return v ? "t" : "f";
  return String(v);
}
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

function* copyChunks(rows: Cell[][]): Generator<string> {
  // ~1000 rows per write: few enough stream round trips, small enough to keep memory flat.
  for (let i = 0; i < rows.length; i += 1000) {
    let chunk = "";
    for (const row of rows.slice(i, i + 1000)) chunk += `${row.map(copyValue).join("\t")}\n`;
    yield chunk;
  }
}

async function copyRows(client: LegacyClient, t: LegacyTablePlan): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${t.table} (${t.columns.join(", ")}) FROM STDIN`));
  await pipeline(Readable.from(copyChunks(t.rows)), stream);
}

// ------------------------------------------------------------------------------------------------
// PRNG: sfc32 seeded by cyrb128 of "seed/stream" (small, fast, 128-bit state: no uuid collisions
// from a short period, unlike a 32-bit generator).

class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: string) {
    [this.a, this.b, this.c, this.d] = cyrb128(`${seed}/${stream}`);
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  next(): number {
    return this.u32() / 4_294_967_296;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** A version-4 uuid from 128 PRNG bits. */
  uuid(): string {
    const w0 = this.u32();
    const w1 = ((this.u32() & 0xffff0fff) | 0x00004000) >>> 0;
    const w2 = ((this.u32() & 0x3fffffff) | 0x80000000) >>> 0;
    const w3 = this.u32();
    const hi = (w: number) => HEX[w >>> 24]! + HEX[(w >>> 16) & 0xff]!;
    const lo = (w: number) => HEX[(w >>> 8) & 0xff]! + HEX[w & 0xff]!;
    return `${hi(w0)}${lo(w0)}-${hi(w1)}-${lo(w1)}-${hi(w2)}-${lo(w2)}${hi(w3)}${lo(w3)}`;
  }
}

// Byte to two hex digits: Number#toString(16) dominated plan building.
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** k distinct integers in [lo, hi), none in `exclude`. */
function sampleIndices(rng: Rng, k: number, lo: number, hi: number, exclude: Set<number>): Set<number> {
  const out = new Set<number>();
  if (hi - lo - exclude.size < k) throw new Error(`cannot pick ${k} anomalies among ${hi - lo} rows`);
  while (out.size < k) {
    const i = rng.int(lo, hi - 1);
    if (!exclude.has(i)) out.add(i);
  }
  return out;
}

/** Splits `total` among `n` owners, each getting at least `min` (when the total allows). */
function distribute(rng: Rng, total: number, n: number, min: number): number[] {
  const base = total >= n * min ? min : 0;
  const counts = new Array<number>(n).fill(base);
  for (let left = total - base * n; left > 0; left--) counts[rng.int(0, n - 1)]!++;
  return counts;
}

// ------------------------------------------------------------------------------------------------
// Brazilian data.

/** Check digits of a CPF's first nine digits (Receita Federal's mod-11 rule). */
export function cpfCheckDigits(nine: string): string {
  const d = [...nine].map(Number);
  const dv = (digits: number[]) => {
    const sum = digits.reduce((acc, n, i) => acc + n * (digits.length + 1 - i), 0);
    const r = (sum * 10) % 11;
    return r === 10 ? 0 : r;
  };
  const d1 = dv(d);
  const d2 = dv([...d, d1]);
  return `${d1}${d2}`;
}

/** A CPF, with or without punctuation, whose check digits are right. */
export function isValidCpf(cpf: string): boolean {
  if (!/^(\d{3}\.\d{3}\.\d{3}-\d{2}|\d{11})$/.test(cpf)) return false;
  const digits = cpf.replace(/\D/g, "");
  if (/^(\d)\1{10}$/.test(digits)) return false;
  return cpfCheckDigits(digits.slice(0, 9)) === digits.slice(9);
}

function randomCpf(rng: Rng): string {
  let nine: string;
  do nine = String(rng.int(0, 999_999_999)).padStart(9, "0");
  while (/^(\d)\1{8}$/.test(nine));
  return nine + cpfCheckDigits(nine);
}

function formatCpf(d: string): string {
  return `${d.slice(0, 3)}.${d.slice(3, 6)}.${d.slice(6, 9)}-${d.slice(9)}`;
}

/** A real date of birth, 1940-2014, as the old forms typed it. */
function birthDate(rng: Rng): string {
  const from = Date.UTC(1940, 0, 1);
  const d = new Date(from + rng.int(0, Math.floor((Date.UTC(2014, 11, 31) - from) / DAY_MS)) * DAY_MS);
  const dd = String(d.getUTCDate()).padStart(2, "0");
  const mm = String(d.getUTCMonth() + 1).padStart(2, "0");
  return `${dd}/${mm}/${d.getUTCFullYear()}`;
}

/** What the old forms let through: impossible days and months, free text. (An empty field is
 * "not given", which the mapping turns into NULL: not an invalid date.) */
function invalidDate(rng: Rng): string {
  const y = rng.int(1940, 2010);
  const notLeap = y % 4 === 0 ? y + 1 : y;
  return rng.pick([
    `31/02/${y}`,
    `30/02/${y}`,
    `29/02/${notLeap}`,
    `31/04/${y}`,
    `31/11/${y}`,
    `00/${String(rng.int(1, 12)).padStart(2, "0")}/${y}`,
    `${String(rng.int(1, 28)).padStart(2, "0")}/13/${y}`,
    `32/01/${y}`,
    "ontem",
    "sem data",
    "não sabe",
  ]);
}

function telefoneCelular(rng: Rng): string {
  // São Paulo clinic: mostly the capital's area code, some from the state's interior and coast.
  const ddd = rng.chance(0.8) ? 11 : rng.pick([12, 13, 14, 15, 16, 17, 18, 19]);
  return `(${ddd}) 9${rng.int(1000, 9999)}-${String(rng.int(0, 9999)).padStart(4, "0")}`;
}

function personName(rng: Rng): string {
  const feminino = rng.chance(0.55);
  const first = rng.pick(feminino ? FEMININOS : MASCULINOS);
  const middle = rng.chance(0.3) ? ` ${rng.pick(feminino ? MEIOS_FEMININOS : MEIOS_MASCULINOS)}` : "";
  let last = rng.pick(SOBRENOMES);
  if (rng.chance(0.6)) {
    let other: string;
    do other = rng.pick(SOBRENOMES);
    while (other === last);
    last = `${other} ${last}`;
  }
  return `${first}${middle} ${last}`;
}

function ascii(s: string): string {
  return s
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "");
}

/** first.last, firstlast, first_last, flast, first.last85: lowercase, no accents. */
function emailLocal(rng: Rng, nome: string, varied: boolean, year?: string): string {
  const words = nome.split(" ").filter((w) => !PARTICULAS.has(w));
  const first = ascii(words[0]!);
  const last = ascii(words[words.length - 1]!);
  if (!varied) return `${first}.${last}`;
  switch (rng.int(0, 5)) {
    case 0:
      return `${first}${last}`;
    case 1:
      return `${first}_${last}`;
    case 2:
      return `${first[0]}${last}`;
    case 3:
      return year ? `${first}.${last}${year.slice(2)}` : `${first}.${last}`;
    default:
      return `${first}.${last}`;
  }
}

function uniqueEmail(used: Set<string>, local: string, domain: string): string {
  let email = `${local}@${domain}`;
  for (let n = 2; used.has(email); n++) email = `${local}${n}@${domain}`;
  used.add(email);
  return email;
}

/** Whole-hour slots (start instants) on weekdays, 08:00-17:00 local, for a year from the epoch. */
function agendaSlots(): number[] {
  const e = LEGACY_EPOCH;
  const day0 = Date.UTC(e.getUTCFullYear(), e.getUTCMonth(), e.getUTCDate());
  const slots: number[] = [];
  for (let d = 0; d < AGENDA_DAYS; d++) {
    const day = day0 + d * DAY_MS;
    const dow = new Date(day).getUTCDay();
    if (dow === 0 || dow === 6) continue;
    for (let h = 8; h <= 17; h++) slots.push(day + h * HOUR_MS - SAO_PAULO_OFFSET_MS);
  }
  return slots;
}

function consultaStatus(rng: Rng, inicio: number, mayCancel: boolean): string {
  const r = rng.next() * (mayCancel ? 1 : 0.88);
  if (inicio < SNAPSHOT_MS) return r < 0.8 ? "REALIZADA" : r < 0.88 ? "FALTA" : "CANCELADA";
  return r < 0.55 ? "AGENDADA" : r < 0.88 ? "CONFIRMADA" : "CANCELADA";
}

/** The local (São Paulo) calendar date of an instant, as YYYY-MM-DD. */
function localDate(ms: number): string {
  return new Date(ms + SAO_PAULO_OFFSET_MS).toISOString().slice(0, 10);
}

function clinicalNote(rng: Rng): string {
  const n = rng.int(1, 3);
  const templates = rng.shuffle([...NOTAS]).slice(0, n);
  return templates.map((t) => t(rng)).join(" ");
}

const FEMININOS = [
  "Maria",
  "Ana",
  "Conceição",
  "Luíza",
  "Fernanda",
  "Juliana",
  "Patrícia",
  "Letícia",
  "Márcia",
  "Sônia",
  "Cláudia",
  "Vitória",
  "Lúcia",
  "Beatriz",
  "Camila",
  "Aline",
  "Gabriela",
  "Helena",
  "Inês",
  "Débora",
  "Mônica",
  "Tânia",
  "Glória",
  "Bárbara",
  "Lívia",
  "Natália",
  "Priscila",
  "Raquel",
  "Simone",
  "Valéria",
  "Rosângela",
  "Jéssica",
  "Célia",
  "Francisca",
];
const MASCULINOS = [
  "João",
  "José",
  "Luís",
  "Antônio",
  "Sebastião",
  "Francisco",
  "Carlos",
  "Paulo",
  "Pedro",
  "Lucas",
  "Marcos",
  "André",
  "Rafael",
  "Fábio",
  "Márcio",
  "Sérgio",
  "Vinícius",
  "Flávio",
  "Otávio",
  "Caio",
  "Gustavo",
  "Thiago",
  "Rogério",
  "Maurício",
  "Júlio",
  "Inácio",
  "Joaquim",
  "Benedito",
  "Raimundo",
  "Tomás",
  "César",
];
const MEIOS_FEMININOS = ["Aparecida", "de Fátima", "da Conceição", "Eduarda", "Clara", "Luísa", "das Graças"];
const MEIOS_MASCULINOS = ["Pedro", "Carlos", "Henrique", "Vítor", "Luís", "Gabriel", "Antônio", "Emanuel"];
const SOBRENOMES = [
  "da Silva",
  "dos Santos",
  "Oliveira",
  "de Souza",
  "Rodrigues",
  "Ferreira",
  "Alves",
  "Pereira",
  "Lima",
  "Gomes",
  "Ribeiro",
  "Carvalho",
  "Araújo",
  "Gonçalves",
  "Magalhães",
  "Simões",
  "Brandão",
  "Guimarães",
  "Falcão",
  "Assunção",
  "da Conceição",
  "Gouvêa",
  "Romão",
  "Nóbrega",
  "Sampaio",
  "Damásio",
  "Estêvão",
  "Lopes",
  "Martins",
  "Rocha",
  "Barbosa",
  "Melo",
  "Cardoso",
  "Teixeira",
  "Correia",
  "Azevedo",
  "Moraes",
  "Peixoto",
  "Antunes",
  "Patrício",
  "Cavalcânti",
  "Leão",
  "Mourão",
];
const PARTICULAS = new Set(["da", "das", "de", "do", "dos"]);
const EMAIL_DOMAINS = [
  "gmail.com",
  "gmail.com",
  "gmail.com",
  "hotmail.com",
  "outlook.com",
  "yahoo.com.br",
  "uol.com.br",
  "bol.com.br",
  "terra.com.br",
];

type Categoria = "alongamento" | "fortalecimento" | "mobilidade" | "equilíbrio" | "respiratório";

const EXERCICIOS: readonly [nome: string, categoria: Categoria, regiao: string][] = [
  ["Alongamento de isquiotibiais", "alongamento", "posterior de coxa"],
  ["Alongamento de quadríceps em pé", "alongamento", "anterior de coxa"],
  ["Alongamento de panturrilha na parede", "alongamento", "tríceps sural"],
  ["Alongamento de piriforme", "alongamento", "quadril"],
  ["Alongamento de trapézio superior", "alongamento", "cervical"],
  ["Alongamento de peitoral na porta", "alongamento", "tórax anterior"],
  ["Alongamento de flexores de quadril", "alongamento", "quadril"],
  ["Alongamento de adutores (borboleta)", "alongamento", "face interna da coxa"],
  ["Alongamento de flexores do punho", "alongamento", "antebraço"],
  ["Alongamento de escalenos", "alongamento", "cervical"],
  ["Alongamento da banda iliotibial", "alongamento", "face lateral da coxa"],
  ["Alongamento de paravertebrais (joelhos ao peito)", "alongamento", "coluna lombar"],
  ["Agachamento livre", "fortalecimento", "membros inferiores"],
  ["Ponte glútea", "fortalecimento", "glúteos"],
  ["Elevação de panturrilha", "fortalecimento", "tríceps sural"],
  ["Extensão de joelho com caneleira", "fortalecimento", "quadríceps"],
  ["Abdução de quadril com elástico", "fortalecimento", "glúteo médio"],
  ["Rotação externa de ombro com elástico", "fortalecimento", "manguito rotador"],
  ["Remada baixa com elástico", "fortalecimento", "escápulas"],
  ["Prancha frontal", "fortalecimento", "core"],
  ["Prancha lateral", "fortalecimento", "core"],
  ["Flexão de braço na parede", "fortalecimento", "membros superiores"],
  ["Isometria de quadríceps com rolo", "fortalecimento", "quadríceps"],
  ["Preensão da toalha com os dedos", "fortalecimento", "intrínsecos do pé"],
  ["Pêndulo de Codman", "mobilidade", "ombro"],
  ["Gato-camelo", "mobilidade", "coluna"],
  ["Rotação torácica em quatro apoios", "mobilidade", "coluna torácica"],
  ["Mobilização de tornozelo no degrau", "mobilidade", "tornozelo"],
  ["Deslizamento na parede (wall slide)", "mobilidade", "ombro"],
  ["Flexão de ombro com bastão", "mobilidade", "ombro"],
  ["Circundução de quadril em pé", "mobilidade", "quadril"],
  ["Mobilização neural do nervo mediano", "mobilidade", "membro superior"],
  ["Retração cervical (chin tuck)", "mobilidade", "cervical"],
  ["Báscula pélvica deitado", "mobilidade", "coluna lombar"],
  ["Rotação de tronco sentado", "mobilidade", "coluna"],
  ["Deslizamento de calcanhar deitado", "mobilidade", "joelho"],
  ["Apoio unipodal", "equilíbrio", "tornozelo e quadril"],
  ["Apoio unipodal de olhos fechados", "equilíbrio", "tornozelo e quadril"],
  ["Marcha em linha reta (tandem)", "equilíbrio", "marcha"],
  ["Equilíbrio na prancha instável", "equilíbrio", "tornozelo"],
  ["Equilíbrio no disco proprioceptivo", "equilíbrio", "joelho e tornozelo"],
  ["Marcha com obstáculos", "equilíbrio", "marcha"],
  ["Alcance funcional anterior", "equilíbrio", "controle postural"],
  ["Transferência de peso lateral", "equilíbrio", "membros inferiores"],
  ["Sentar e levantar sem apoio", "equilíbrio", "membros inferiores"],
  ["Subida no degrau (step up)", "equilíbrio", "membros inferiores"],
  ["Marcha lateral com elástico", "equilíbrio", "quadril"],
  ["Equilíbrio na espuma com bola", "equilíbrio", "controle postural"],
  ["Respiração diafragmática", "respiratório", "diafragma"],
  ["Respiração com lábios franzidos", "respiratório", "expiração"],
  ["Inspiração fracionada", "respiratório", "expansão pulmonar"],
  ["Inspiração máxima sustentada", "respiratório", "expansão pulmonar"],
  ["Espirometria de incentivo", "respiratório", "expansão pulmonar"],
  ["Huffing (tosse assistida)", "respiratório", "higiene brônquica"],
  ["Expansão torácica com bastão", "respiratório", "caixa torácica"],
  ["Respiração costal lateral", "respiratório", "caixa torácica"],
  ["Treino muscular inspiratório com carga linear", "respiratório", "músculos inspiratórios"],
  ["Padrão ventilatório em tempos", "respiratório", "controle ventilatório"],
  ["Drenagem postural", "respiratório", "higiene brônquica"],
  ["Sopro em canudo com água", "respiratório", "expiração"],
];

const DESCRICOES: Record<Categoria, readonly string[]> = {
  alongamento: [
    "Manter a posição por 30 segundos, sem dor, respirando devagar.",
    "Alongar até sentir leve tensão e sustentar por 20 a 30 segundos.",
  ],
  fortalecimento: [
    "Executar o movimento de forma lenta e controlada.",
    "Fazer as repetições sem compensações, com pausa de 1 minuto entre as séries.",
  ],
  mobilidade: [
    "Movimentar dentro da amplitude confortável, sem forçar.",
    "Realizar movimentos suaves e ritmados, aumentando a amplitude aos poucos.",
  ],
  equilíbrio: [
    "Realizar perto de um apoio seguro, aumentando o tempo aos poucos.",
    "Manter o tronco ereto e o olhar fixo em um ponto à frente.",
  ],
  respiratório: [
    "Inspirar pelo nariz e expirar lentamente pela boca.",
    "Realizar sentado, com os ombros relaxados, em ambiente arejado.",
  ],
};
const DICAS = [
  "Interromper em caso de dor forte.",
  "Pode ser feito em casa.",
  "Fazer com supervisão nas primeiras semanas.",
  "Evitar prender a respiração.",
];
const FREQUENCIAS = [
  "1x/semana",
  "2x/semana",
  "3x/semana",
  "3x/semana",
  "5x/semana",
  "diariamente",
  "2x/dia",
];
const OBS_PRESCRICAO = [
  "Evitar dor acima de 3/10.",
  "Realizar após aquecimento.",
  "Usar caneleira de 1 kg.",
  "Usar elástico de resistência média.",
  "Fazer em frente ao espelho.",
];
const OBS_CONSULTA = [
  "Primeira avaliação.",
  "Retorno.",
  "Reavaliação.",
  "Trazer exames de imagem.",
  "Paciente com convênio.",
  "Vir com roupa confortável.",
];
const OBS_CANCELADA = [
  "Paciente pediu para remarcar.",
  "Cancelada por motivo de saúde.",
  "Fisioterapeuta em congresso.",
];

const REGIOES = [
  "coluna lombar",
  "coluna cervical",
  "ombro direito",
  "ombro esquerdo",
  "joelho direito",
  "joelho esquerdo",
  "tornozelo direito",
  "tornozelo esquerdo",
  "quadril direito",
  "punho esquerdo",
];
const NOTAS: readonly ((rng: Rng) => string)[] = [
  (r) => `Paciente relata dor em ${r.pick(REGIOES)} de intensidade ${r.int(2, 9)}/10 (EVA).`,
  (r) => `Refere melhora de ${r.int(2, 8) * 10}% da dor desde a última sessão.`,
  (r) => `Realizada cinesioterapia para ${r.pick(REGIOES)}, com boa tolerância.`,
  (r) => `Aplicada terapia manual em ${r.pick(REGIOES)}, sem intercorrências.`,
  (r) => `Amplitude de flexão do ${r.pick(["joelho", "ombro", "quadril"])} de ${r.int(60, 150)}°.`,
  () => "Orientado quanto à execução dos exercícios domiciliares.",
  (r) => `Apresenta edema leve em ${r.pick(REGIOES.filter((x) => !x.startsWith("coluna")))}.`,
  () => "Marcha independente, sem dispositivo auxiliar.",
  (r) =>
    `Força muscular grau ${r.int(3, 5)} em ${r.pick(["quadríceps", "glúteo médio", "deltoide", "tibial anterior"])}.`,
  (r) => `Conduta mantida; reavaliação em ${r.int(4, 10)} sessões.`,
  () => "Paciente sonolento e pouco colaborativo hoje; sessão adaptada.",
  (r) => `Aplicada eletroterapia (TENS) por ${r.pick([15, 20, 30])} minutos.`,
];
