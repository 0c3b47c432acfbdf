/**
 * The legacy data generator (db/legacy/generate.ts) against a real PostgreSQL: counts, determinism,
 * valid CPFs, Brazilian shapes, and the injected anomalies exactly as reported (the migration's
 * quarantine is checked against that report, so "no other anomalies" matters as much as "these").
 * Throw-away databases, created here and dropped in afterAll.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  anomalyCount,
  generateLegacy,
  installLegacySchema,
  isValidCpf,
  LEGACY_TABLES,
  type LegacyReport,
  legacySizes,
} from "../../db/legacy/generate";
import { postgresAdminUrl, probePostgres } from "../harness/backends";

const unreachable = await probePostgres();
if (unreachable && process.env.CI === "true")
  throw new Error(`CI must run the legacy generator tests, but ${unreachable}`);
if (unreachable) console.warn(`[skip] legacy generator tests: ${unreachable}`);

const PACIENTES = 300;
const SEED = 7;

describe("legacySizes", () => {
  it("keeps the clinic's ratios", () => {
    expect(legacySizes(10_000)).toEqual({
      fisioterapeutas: 200,
      pacientes: 10_000,
      exercicios: 60,
      consultasPorPaciente: 4,
      prontuariosPorPaciente: 2,
      prescricoesPorPaciente: 1,
    });
    expect(legacySizes(10).fisioterapeutas).toBe(2);
  });

  it("checks CPF digits like the Receita Federal", () => {
    expect(isValidCpf("529.982.247-25")).toBe(true);
    expect(isValidCpf("52998224725")).toBe(true);
    expect(isValidCpf("529.982.247-24")).toBe(false);
    expect(isValidCpf("111.111.111-11")).toBe(false);
    expect(isValidCpf("529982247-25")).toBe(false);
  });
});

describe.skipIf(unreachable)("legacy generator on PostgreSQL", () => {
  const prefix = `legacy_gen_${process.pid}_${randomUUID().slice(0, 8)}`;
  const databases: string[] = [];
  const clients: pg.Client[] = [];
  let db: pg.Client;
  let report: LegacyReport;

  async function freshDatabase(suffix: string): Promise<pg.Client> {
    const name = `${prefix}_${suffix}`;
    const admin = new pg.Client({ connectionString: postgresAdminUrl() });
    await admin.connect();
    try {
      await admin.query(`create database "${name}"`);
      databases.push(name);
    } finally {
      await admin.end();
    }
    const url = new URL(postgresAdminUrl());
    url.pathname = `/${name}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    clients.push(client);
    return client;
  }

  async function generated(suffix: string, seed: number): Promise<[pg.Client, LegacyReport]> {
    const client = await freshDatabase(suffix);
    await installLegacySchema(client);
    return [client, await generateLegacy(client, { pacientes: PACIENTES, seed })];
  }

  /** md5 of each table's rows in id order, without the trigger-set timestamps. */
  async function digests(client: pg.Client): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const table of LEGACY_TABLES) {
      const { rows: cols } = await client.query<{ c: string }>(
        `select quote_ident(column_name) as c from information_schema.columns
          where table_schema = 'public' and table_name = $1
            and column_name not in ('created_at', 'updated_at')
          order by ordinal_position`,
        [table],
      );
      const { rows } = await client.query<{ d: string }>(
        `select md5(string_agg(t::text, ',' order by t.id)) as d
           from (select ${cols.map((r) => r.c).join(", ")} from ${table}) t`,
      );
      out[table] = rows[0]!.d;
    }
    return out;
  }

  async function counts(client: pg.Client): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const t of LEGACY_TABLES) {
      const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${t}`);
      out[t] = rows[0]!.n;
    }
    return out;
  }

  beforeAll(async () => {
    db = await freshDatabase("a");
  });

  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {});
    if (!databases.length) return;
    const admin = new pg.Client({ connectionString: postgresAdminUrl() });
    await admin.connect();
    try {
      for (const name of databases) await admin.query(`drop database if exists "${name}" with (force)`);
    } finally {
      await admin.end();
    }
  });

  it("installs the legacy schema", async () => {
    await installLegacySchema(db);
    const { rows } = await db.query<{ t: string }>(
      `select table_name as t from information_schema.tables where table_schema = 'public' order by 1`,
    );
    expect(rows.map((r) => r.t)).toEqual([...LEGACY_TABLES].sort());
    const { rows: triggers } = await db.query<{ n: number }>(
      `select count(*)::int as n from pg_trigger where tgname like '%\\_touch' and not tgisinternal`,
    );
    expect(triggers[0]!.n).toBe(LEGACY_TABLES.length);
    expect(Object.values(await counts(db))).toEqual(LEGACY_TABLES.map(() => 0));
  });

  it("generates the expected rows per table, in dependency order", async () => {
    const progress: [string, number][] = [];
    report = await generateLegacy(db, {
      pacientes: PACIENTES,
      seed: SEED,
      onProgress: (t, n) => progress.push([t, n]),
    });
    const s = legacySizes(PACIENTES);
    const expected = {
      fisioterapeutas: s.fisioterapeutas,
      exercicios: s.exercicios,
      pacientes: PACIENTES,
      consultas: PACIENTES * s.consultasPorPaciente,
      prontuarios: PACIENTES * s.prontuariosPorPaciente,
      prescricoes: PACIENTES * s.prescricoesPorPaciente,
    };
    expect(expected).toEqual({
      fisioterapeutas: 6,
      exercicios: 60,
      pacientes: 300,
      consultas: 1200,
      prontuarios: 600,
      prescricoes: 300,
    });
    expect(report.seed).toBe(SEED);
    expect(report.rows).toEqual(expected);
    expect(await counts(db)).toEqual(expected);
    expect(progress).toEqual(LEGACY_TABLES.flatMap((t) => [[t, 0] as const, [t, expected[t]] as const]));
  });

  it("refuses a database that already has rows", async () => {
    await expect(generateLegacy(db, { pacientes: 10, seed: 1 })).rejects.toThrow(/not empty/);
    expect(await counts(db)).toEqual(report.rows);
  });

  it("is deterministic: the same seed gives the same rows, another seed other rows", async () => {
    const [same, sameReport] = await generated("b", SEED);
    const [other, otherReport] = await generated("c", SEED + 1);
    const mine = await digests(db);
    expect(await digests(same)).toEqual(mine);
    expect(sameReport).toEqual(report);
    const theirs = await digests(other);
    for (const t of LEGACY_TABLES) expect(theirs[t], t).not.toBe(mine[t]);
    expect(otherReport.anomalies.cpfDuplicado).not.toEqual(report.anomalies.cpfDuplicado);
  });

  it("writes only CPFs with valid check digits, half punctuated, half bare", async () => {
    // The check digits recomputed in SQL, independently of the generator's code.
    const { rows: bad } = await db.query(String.raw`
      with d as (select cpf, regexp_replace(cpf, '\D', '', 'g') as n from pacientes),
      s as (
        select cpf, n,
               (select sum(substr(n, i, 1)::int * (11 - i)) from generate_series(1, 9) i) as s1,
               (select sum(substr(n, i, 1)::int * (12 - i)) from generate_series(1, 10) i) as s2
          from d where n ~ '^\d{11}$'
      )
      select cpf from pacientes
       where cpf is null or not (cpf ~ '^\d{3}\.\d{3}\.\d{3}-\d{2}$' or cpf ~ '^\d{11}$')
      union all
      select cpf from s
       where substr(n, 10, 1)::int <> (s1 * 10 % 11) % 10
          or substr(n, 11, 1)::int <> (s2 * 10 % 11) % 10
          or n ~ '^(\d)\1{10}$'`);
    expect(bad).toEqual([]);
    const { rows } = await db.query<{ cpf: string }>("select cpf from pacientes");
    expect(rows.every((r) => isValidCpf(r.cpf))).toBe(true);
    const punctuated = rows.filter((r) => r.cpf.includes(".")).length;
    expect(punctuated).toBeGreaterThan(PACIENTES * 0.35);
    expect(punctuated).toBeLessThan(PACIENTES * 0.65);
  });

  it("injects the reported anomalies, about 0.5% each", () => {
    const { cpfDuplicado, dataInvalida, consultaSobreposta } = report.anomalies;
    expect(cpfDuplicado).toHaveLength(anomalyCount(PACIENTES, PACIENTES));
    expect(dataInvalida).toHaveLength(anomalyCount(PACIENTES, PACIENTES));
    expect(consultaSobreposta).toHaveLength(anomalyCount(PACIENTES * 4, PACIENTES));
    expect(
      Math.min(cpfDuplicado.length, dataInvalida.length, consultaSobreposta.length),
    ).toBeGreaterThanOrEqual(1);
    expect(cpfDuplicado.filter((id) => dataInvalida.includes(id))).toEqual([]);
  });

  it("duplicates CPFs only where reported, each repeating an earlier paciente's", async () => {
    const { rows } = await db.query<{ id: string; n: string; created_at: Date }>(
      String.raw`select id, regexp_replace(cpf, '\D', '', 'g') as n, created_at from pacientes`,
    );
    const reported = new Set(report.anomalies.cpfDuplicado);
    const byCpf = new Map<string, typeof rows>();
    for (const r of rows) byCpf.set(r.n, [...(byCpf.get(r.n) ?? []), r]);
    const duplicated = [...byCpf.values()].filter((g) => g.length > 1);
    // Each shared CPF: one original (unreported, written first) and the reported later copies.
    for (const group of duplicated) {
      const originals = group.filter((r) => !reported.has(r.id));
      expect(originals).toHaveLength(1);
      for (const copy of group.filter((r) => reported.has(r.id)))
        expect(copy.created_at.getTime()).toBeGreaterThanOrEqual(originals[0]!.created_at.getTime());
    }
    const inGroups = duplicated.flatMap((g) => g.filter((r) => reported.has(r.id)).map((r) => r.id));
    expect(inGroups.sort()).toEqual([...reported].sort());
  });

  it("writes impossible dates of birth only where reported", async () => {
    const { rows } = await db.query<{ id: string; d: string | null }>(
      "select id, data_nascimento as d from pacientes",
    );
    const reported = new Set(report.anomalies.dataInvalida);
    for (const r of rows) {
      if (reported.has(r.id)) {
        expect(r.d, r.id).not.toBeNull();
        expect(isRealDate(r.d!), r.d!).toBe(false);
      } else if (r.d !== null) {
        expect(isRealDate(r.d), r.d).toBe(true);
      }
    }
    expect(rows.filter((r) => r.d !== null && isRealDate(r.d)).length).toBeGreaterThan(PACIENTES * 0.9);
  });

  it("double-books fisioterapeutas only where reported, each after the consulta it overlaps", async () => {
    const { rows: pairs } = await db.query<{
      a: string;
      b: string;
      a_at: Date;
      b_at: Date;
    }>(`
      select a.id as a, b.id as b, a.created_at as a_at, b.created_at as b_at
        from consultas a
        join consultas b on b.fisioterapeuta_id = a.fisioterapeuta_id and b.id <> a.id and a.id < b.id
         and tstzrange(a.data_hora, a.data_hora + make_interval(mins => a.duracao_min))
          && tstzrange(b.data_hora, b.data_hora + make_interval(mins => b.duracao_min))
       where a.status <> 'CANCELADA' and b.status <> 'CANCELADA'`);
    const reported = new Set(report.anomalies.consultaSobreposta);
    // Every overlapping pair: exactly one reported consulta, written after the other one.
    for (const p of pairs) {
      expect(Number(reported.has(p.a)) + Number(reported.has(p.b)), `${p.a} ${p.b}`).toBe(1);
      const [later, earlier] = reported.has(p.a) ? [p.a_at, p.b_at] : [p.b_at, p.a_at];
      expect(later.getTime()).toBeGreaterThanOrEqual(earlier.getTime());
    }
    const overlapping = new Set(pairs.flatMap((p) => [p.a, p.b]).filter((id) => reported.has(id)));
    expect([...overlapping].sort()).toEqual([...reported].sort());
  });

  it("books weekdays, 08:00-18:00 in São Paulo, over a year, with the legacy statuses", async () => {
    const { rows } = await db.query(
      `select count(*) filter (where extract(isodow from l) > 5)::int as fim_de_semana,
              count(*) filter (where l::time < '08:00' or l + make_interval(mins => duracao_min) > l::date + time '18:00')::int as fora_do_horario,
              count(*) filter (where extract(minute from l) <> 0 and not (id = any($1::uuid[])))::int as fora_da_hora_cheia,
              count(*) filter (where l < '2026-01-05' or l >= '2027-01-05')::int as fora_do_ano,
              count(*) filter (where duracao_min not in (30, 50, 60))::int as duracao_estranha,
              count(*) filter (where duracao_min = 50)::int as de_50,
              count(*) filter (where status not in ('AGENDADA', 'CONFIRMADA', 'REALIZADA', 'CANCELADA', 'FALTA'))::int as status_estranho,
              count(distinct status)::int as statuses
         from (select *, data_hora at time zone 'America/Sao_Paulo' as l from consultas) c`,
      [report.anomalies.consultaSobreposta],
    );
    expect(rows[0]).toMatchObject({
      fim_de_semana: 0,
      fora_do_horario: 0,
      fora_da_hora_cheia: 0,
      fora_do_ano: 0,
      duracao_estranha: 0,
      status_estranho: 0,
      statuses: 5,
    });
    expect(rows[0].de_50).toBeGreaterThan(PACIENTES * 4 * 0.6);
  });

  it("looks like a Brazilian clinic's records", async () => {
    const { rows: pacientes } = await db.query<{
      nome: string;
      email: string | null;
      telefone: string | null;
    }>("select nome, email, telefone from pacientes");
    const emails = pacientes.flatMap((p) => (p.email ? [p.email] : []));
    expect(new Set(emails).size).toBe(emails.length);
    for (const e of emails) expect(e).toMatch(/^[a-z0-9._]+@[a-z0-9.]+\.[a-z]+$/);
    for (const p of pacientes) if (p.telefone) expect(p.telefone).toMatch(/^\(\d{2}\) 9\d{4}-\d{4}$/);
    expect(pacientes.filter((p) => /[áâãéêíóôõúç]/i.test(p.nome)).length).toBeGreaterThan(PACIENTES * 0.3);

    const { rows: fisios } = await db.query<{ email: string; crefito: string }>(
      "select email, crefito from fisioterapeutas",
    );
    expect(new Set(fisios.map((f) => f.email)).size).toBe(fisios.length);
    for (const f of fisios) expect(f.crefito).toMatch(/^CREFITO-3\/\d{6}-F$/);

    const { rows: ex } = await db.query<{ nomes: number; categorias: string[] }>(
      `select count(distinct lower(regexp_replace(nome, '\\s+', '', 'g')))::int as nomes,
              array_agg(distinct categoria order by categoria) as categorias from exercicios`,
    );
    expect(ex[0]).toEqual({
      nomes: 60,
      categorias: ["alongamento", "equilíbrio", "fortalecimento", "mobilidade", "respiratório"],
    });

    const { rows: prontuarios } = await db.query<{ conteudo: string; alheia: boolean }>(
      `select p.conteudo, c.id is not null and c.paciente_id <> p.paciente_id as alheia
         from prontuarios p left join consultas c on c.id = p.consulta_id`,
    );
    for (const p of prontuarios) {
      expect(p.alheia).toBe(false);
      const sentences = p.conteudo.split(/(?<=\.) (?=\p{Lu})/u).length;
      expect(sentences, p.conteudo).toBeGreaterThanOrEqual(1);
      expect(sentences, p.conteudo).toBeLessThanOrEqual(3);
    }

    const { rows: px } = await db.query(
      `select count(*) filter (where series not between 1 and 5 or repeticoes not between 5 and 20)::int as fora,
              count(*) filter (where fim is not null and fim <= inicio)::int as periodo_invertido,
              count(*) filter (where frequencia !~ '^([0-9]x/(semana|dia)|diariamente)$')::int as frequencia_estranha
         from prescricoes`,
    );
    expect(px[0]).toEqual({ fora: 0, periodo_invertido: 0, frequencia_estranha: 0 });
  });
});

/** A real calendar date written DD/MM/YYYY. */
function isRealDate(s: string): boolean {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(s);
  if (!m) return false;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}
