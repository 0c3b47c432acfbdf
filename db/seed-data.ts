/**
 * Deterministic fake clinic data (pure: no I/O), Brazilian flavour: pt_BR names, valid CPFs,
 * mobile phones with real area codes, a non-overlapping agenda per fisioterapeuta.
 */
import { base, Faker, pt_BR } from "@faker-js/faker";
import { monthStart } from "./partitions";

/** Check digits of a CPF's first nine digits (Receita Federal's mod-11 rule). */
export function cpfWithCheckDigits(nine: string): string {
  const d = nine.split("").map(Number);
  const dv = (digits: number[], weightStart: number) => {
    const sum = digits.reduce((acc, n, i) => acc + n * (weightStart - i), 0);
    const r = (sum * 10) % 11;
    return r === 10 ? 0 : r;
  };
  const d1 = dv(d, 10);
  const d2 = dv([...d, d1], 11);
  return `${nine}${d1}${d2}`;
}

export function isValidCpf(cpf: string): boolean {
  if (!/^[0-9]{11}$/.test(cpf) || /^(\d)\1{10}$/.test(cpf)) return false;
  return cpfWithCheckDigits(cpf.slice(0, 9)) === cpf;
}

const DDDS = [11, 12, 13, 19, 21, 24, 27, 31, 41, 47, 48, 51, 61, 62, 71, 81, 85, 91, 92, 98];

export const EXERCICIOS: [nome: string, categoria: string][] = [
  ["Agachamento livre", "fortalecimento"],
  ["Agachamento na parede", "fortalecimento"],
  ["Ponte glútea", "fortalecimento"],
  ["Elevação de panturrilha", "fortalecimento"],
  ["Extensão de joelho com caneleira", "fortalecimento"],
  ["Flexão de joelho em pé", "fortalecimento"],
  ["Abdução de quadril deitado", "fortalecimento"],
  ["Prancha frontal", "core"],
  ["Prancha lateral", "core"],
  ["Perdigueiro (bird dog)", "core"],
  ["Dead bug", "core"],
  ["Rotação externa de ombro com elástico", "fortalecimento"],
  ["Rotação interna de ombro com elástico", "fortalecimento"],
  ["Remada com elástico", "fortalecimento"],
  ["Pêndulo de Codman", "mobilidade"],
  ["Deslizamento na parede (wall slide)", "mobilidade"],
  ["Alongamento de isquiotibiais", "alongamento"],
  ["Alongamento de quadríceps", "alongamento"],
  ["Alongamento de piriforme", "alongamento"],
  ["Alongamento de panturrilha na parede", "alongamento"],
  ["Alongamento de trapézio", "alongamento"],
  ["Mobilização de tornozelo no degrau", "mobilidade"],
  ["Gato-camelo", "mobilidade"],
  ["Rotação torácica em quatro apoios", "mobilidade"],
  ["Retração cervical (chin tuck)", "postura"],
  ["Equilíbrio unipodal", "propriocepção"],
  ["Equilíbrio em prancha instável", "propriocepção"],
  ["Marcha em linha reta", "propriocepção"],
  ["Step up no degrau", "funcional"],
  ["Sentar e levantar da cadeira", "funcional"],
  ["Bicicleta ergométrica", "condicionamento"],
  ["Caminhada em esteira", "condicionamento"],
  ["Respiração diafragmática", "respiratório"],
  ["Isometria de quadríceps", "fortalecimento"],
  ["Mini agachamento com bola suíça", "fortalecimento"],
  ["Clamshell com elástico", "fortalecimento"],
  ["Extensão lombar (McKenzie)", "mobilidade"],
  ["Fortalecimento de punho com halter", "fortalecimento"],
  ["Preensão com massinha", "funcional"],
  ["Deslizamento neural do mediano", "neural"],
];

const FREQUENCIAS = ["diária", "2x/semana", "3x/semana", "5x/semana", "dias alternados"];
const QUEIXAS = [
  "lombalgia crônica",
  "cervicalgia",
  "pós-operatório de LCA",
  "tendinopatia do manguito rotador",
  "entorse de tornozelo",
  "fascite plantar",
  "síndrome do túnel do carpo",
  "gonartrose",
  "epicondilite lateral",
  "hérnia de disco lombar",
  "reabilitação pós-AVC",
  "bursite trocantérica",
];

export interface SeedPlanOptions {
  pacientes: number;
  seed?: number;
  /** Reference instant; the agenda spans 9 months before to 3 months after its UTC month. */
  now?: Date;
  consultasPorPaciente?: number;
}

export interface SeedPlan {
  fisioterapeutas: { id: string; nome: string; email: string; crefito: string }[];
  pacientes: {
    id: string;
    nome: string;
    email: string;
    telefone: string;
    data_nascimento: string;
    cpf: string;
    status: string;
    fisioterapeuta_id: string;
  }[];
  exercicios: { id: string; nome: string; descricao: string; categoria: string }[];
  consultas: {
    id: string;
    paciente_id: string;
    fisioterapeuta_id: string;
    data_consulta: string;
    duracao_min: number;
    status: string;
    observacoes: string | null;
  }[];
  prontuarios: {
    id: string;
    paciente_id: string;
    fisioterapeuta_id: string;
    consulta_id: string | null;
    conteudo: string;
  }[];
  correcoes: {
    id: string;
    corrige_id: string;
    paciente_id: string;
    fisioterapeuta_id: string;
    conteudo: string;
  }[];
  prescricoes: {
    id: string;
    paciente_id: string;
    exercicio_id: string;
    fisioterapeuta_id: string;
    series: number;
    repeticoes: number;
    frequencia: string;
    inicio: string;
  }[];
  window: { from: Date; to: Date };
}

function slug(s: string): string {
  return s
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ".")
    .replace(/^\.|\.$/g, "");
}

export function buildSeedPlan(opts: SeedPlanOptions): SeedPlan {
  const faker = new Faker({ locale: [pt_BR, base] });
  faker.seed(opts.seed ?? 20_261_129);
  const now = opts.now ?? new Date();
  const thisMonth = monthStart(now);
  const from = monthStart(now, -9);
  const to = monthStart(now, 3);
  const porPaciente = opts.consultasPorPaciente ?? 6;
  const nPac = Math.max(0, Math.trunc(opts.pacientes));
  const nFisio = Math.max(1, Math.ceil(nPac / 200));

  const fisioterapeutas = Array.from({ length: nFisio }, (_, i) => {
    const first = faker.person.firstName();
    const last = faker.person.lastName();
    return {
      id: faker.string.uuid(),
      nome: `${first} ${last}`,
      email: `${slug(first)}.${slug(last)}.${i + 1}@fisioflow.com.br`,
      crefito: `CREFITO-${faker.number.int({ min: 1, max: 16 })}/${faker.number.int({ min: 10000, max: 399999 })}-F`,
    };
  });

  const cpfs = new Set<string>();
  const pacientes = Array.from({ length: nPac }, (_, i) => {
    const first = faker.person.firstName();
    const last = faker.person.lastName();
    const middle = faker.helpers.maybe(() => faker.person.lastName(), { probability: 0.6 });
    let cpf: string;
    do {
      cpf = cpfWithCheckDigits(faker.string.numeric(9));
    } while (cpfs.has(cpf) || !isValidCpf(cpf));
    cpfs.add(cpf);
    const ddd = faker.helpers.arrayElement(DDDS);
    return {
      id: faker.string.uuid(),
      nome: [first, middle, last].filter(Boolean).join(" "),
      email: `${slug(first)}.${slug(last)}${i + 1}@${faker.helpers.arrayElement(["gmail.com", "hotmail.com", "outlook.com", "yahoo.com.br", "uol.com.br"])}`,
      telefone: `(${ddd}) 9${faker.string.numeric(4)}-${faker.string.numeric(4)}`,
      data_nascimento: faker.date
        .birthdate({ mode: "age", min: 12, max: 90, refDate: thisMonth })
        .toISOString()
        .slice(0, 10),
      cpf,
      status: faker.helpers.weightedArrayElement([
        { weight: 85, value: "ativo" },
        { weight: 15, value: "inativo" },
      ]),
      fisioterapeuta_id: fisioterapeutas[i % nFisio]!.id,
    };
  });

  const exercicios = EXERCICIOS.map(([nome, categoria]) => ({
    id: faker.string.uuid(),
    nome,
    categoria,
    descricao: `${nome}: ${faker.helpers.arrayElement(["3 séries", "manter 30 s", "movimento lento e controlado", "sem dor"])}.`,
  }));

  // One-hour slots, Mon–Fri, 08:00–17:00 in Brasília (UTC−3): 11:00–20:00 UTC. A consulta lasts
  // at most 60 min, so slots never overlap; each fisioterapeuta's slots are shuffled and dealt out.
  const slots: number[] = [];
  for (let t = from.getTime(); t < to.getTime(); t += 86_400_000) {
    const day = new Date(t).getUTCDay();
    if (day === 0 || day === 6) continue;
    for (let h = 11; h < 20; h++) slots.push(t + h * 3_600_000);
  }
  const byFisio = new Map<string, typeof pacientes>();
  for (const p of pacientes) {
    const list = byFisio.get(p.fisioterapeuta_id) ?? [];
    list.push(p);
    byFisio.set(p.fisioterapeuta_id, list);
  }
  const consultas: SeedPlan["consultas"] = [];
  for (const f of fisioterapeutas) {
    const mine = byFisio.get(f.id) ?? [];
    const wanted = Math.min(slots.length, mine.length * porPaciente);
    const chosen = faker.helpers.shuffle(slots.slice()).slice(0, wanted);
    chosen.forEach((start, k) => {
      const p = mine[k % mine.length]!;
      const past = start < now.getTime();
      const status = past
        ? faker.helpers.weightedArrayElement([
            { weight: 80, value: "realizada" },
            { weight: 8, value: "falta" },
            { weight: 12, value: "cancelada" },
          ])
        : faker.helpers.weightedArrayElement([
            { weight: 60, value: "agendada" },
            { weight: 30, value: "confirmada" },
            { weight: 10, value: "cancelada" },
          ]);
      consultas.push({
        id: faker.string.uuid(),
        paciente_id: p.id,
        fisioterapeuta_id: f.id,
        data_consulta: new Date(start).toISOString(),
        duracao_min: faker.helpers.arrayElement([30, 45, 50, 50, 60]),
        status,
        observacoes:
          faker.helpers.maybe(() => faker.helpers.arrayElement(QUEIXAS), { probability: 0.3 }) ?? null,
      });
    });
  }

  const prontuarios: SeedPlan["prontuarios"] = [];
  const correcoes: SeedPlan["correcoes"] = [];
  for (const p of pacientes) {
    const queixa = faker.helpers.arrayElement(QUEIXAS);
    prontuarios.push({
      id: faker.string.uuid(),
      paciente_id: p.id,
      fisioterapeuta_id: p.fisioterapeuta_id,
      consulta_id: null,
      conteudo: `Avaliação inicial: ${queixa}. EVA ${faker.number.int({ min: 3, max: 9 })}/10. Plano: cinesioterapia ${faker.helpers.arrayElement(FREQUENCIAS)}.`,
    });
    const evolucao = {
      id: faker.string.uuid(),
      paciente_id: p.id,
      fisioterapeuta_id: p.fisioterapeuta_id,
      consulta_id: null,
      conteudo: `Evolução: melhora parcial de ${queixa}; EVA ${faker.number.int({ min: 0, max: 6 })}/10.`,
    };
    prontuarios.push(evolucao);
    if (faker.number.int({ min: 1, max: 20 }) === 1) {
      correcoes.push({
        id: faker.string.uuid(),
        corrige_id: evolucao.id,
        paciente_id: p.id,
        fisioterapeuta_id: p.fisioterapeuta_id,
        conteudo: `${evolucao.conteudo} (retificação: EVA registrada na posição errada)`,
      });
    }
  }

  const prescricoes: SeedPlan["prescricoes"] = [];
  for (const p of pacientes) {
    for (const ex of faker.helpers.arrayElements(exercicios, 2)) {
      prescricoes.push({
        id: faker.string.uuid(),
        paciente_id: p.id,
        exercicio_id: ex.id,
        fisioterapeuta_id: p.fisioterapeuta_id,
        series: faker.number.int({ min: 2, max: 4 }),
        repeticoes: faker.helpers.arrayElement([8, 10, 12, 15, 20]),
        frequencia: faker.helpers.arrayElement(FREQUENCIAS),
        inicio: faker.date.between({ from, to: now }).toISOString().slice(0, 10),
      });
    }
  }

  return {
    fisioterapeutas,
    pacientes,
    exercicios,
    consultas,
    prontuarios,
    correcoes,
    prescricoes,
    window: { from, to },
  };
}
