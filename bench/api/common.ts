/**
 * What the API benchmark's processes share: the bench database, the four benchmarked endpoints and
 * the exact SQL each one runs (the same statements as our routes, from db/queries), so that the
 * baselines (neon-bare, pg-pool, pgbench) do the database work our app does and only the layers
 * on top differ.
 */
import { identitySigner } from "../../db/identity";
import { insertConsulta, listConsultas } from "../../db/queries/consultas";
import { PACIENTE_BY_ID, PACIENTES_SEARCH } from "../../db/queries/pacientes";
import { LOCAL } from "../../dev/config";

export { ADMIN_URL, cpuSeconds, spawnTsx } from "../neon-endpoint/shared";

export const DATABASE = "fisioflow_bench";
export const APP_ROLE = "fisioflow_app";
export const OWNER_ROLE = "fisioflow_owner";
/** neon-bare and pg-pool take the caller from this header, unverified (ours verifies a JWT). */
export const USER_HEADER = "x-bench-user";
export const ROLE = "fisioterapeuta";
/** The routes' default page size (ListConsultasQuery / ListPacientesQuery `limit`). */
export const PAGE = 20;
/** Every booking lasts this long; slots are an hour apart, so no two ever overlap. */
export const DURACAO_MIN = 50;
/**
 * Every variant signs its callers' identity as the API does (db/identity.ts), with the local key
 * the bench database is migrated with: the verification is part of what the database does.
 */
export const BENCH_SIGNER = identitySigner(LOCAL.identityKey);

export const ENDPOINTS = [
  { key: "paciente-get", title: "GET /v1/pacientes/:id", read: true },
  { key: "consultas-list", title: "GET /v1/consultas?paciente_id=&from=&to= (one month)", read: true },
  { key: "pacientes-search", title: "GET /v1/pacientes?q=<common surname>", read: true },
  { key: "consultas-create", title: "POST /v1/consultas (a free slot each)", read: false },
] as const;
export type EndpointKey = (typeof ENDPOINTS)[number]["key"];

export interface Statement {
  text: string;
  params: unknown[];
  readOnly: boolean;
}

/** GET /v1/pacientes/:id, as the route runs it (db/queries/pacientes PACIENTE_BY_ID). */
export function pacienteById(id: string): Statement {
  return { text: PACIENTE_BY_ID, params: [id], readOnly: true };
}

/** GET /v1/consultas?paciente_id=&from=&to=: the route asks for one row more than a page. */
export function consultasOfPaciente(pacienteId: string, from: string, to: string): Statement {
  const { text, params } = listConsultas({ from, to, paciente_id: pacienteId, limit: PAGE + 1 });
  return { text, params, readOnly: true };
}

/** GET /v1/pacientes?q=: app.buscar_pacientes, joined back under RLS. */
export function searchPacientes(q: string): Statement {
  return { text: PACIENTES_SEARCH, params: [q, PAGE, null, null, null], readOnly: true };
}

/** POST /v1/consultas by a fisioterapeuta, in their own name. */
export function bookConsulta(userId: string, pacienteId: string, at: string): Statement {
  const { text, params } = insertConsulta({
    paciente_id: pacienteId,
    fisioterapeuta_id: userId,
    data_consulta: at,
    duracao_min: DURACAO_MIN,
  });
  return { text, params, readOnly: false };
}

/** A statement with its parameters written in as literals (for pgbench scripts). */
export function inlineParams(s: Statement): string {
  const literal = (v: unknown) =>
    v === null || v === undefined
      ? "NULL"
      : typeof v === "number"
        ? String(v)
        : `'${String(v).replaceAll("'", "''")}'`;
  return s.text.replace(/\$(\d+)/g, (_, n: string) => literal(s.params[Number(n) - 1]));
}

/** One bookable pair: a fisioterapeuta, one of their active pacientes, and a month with consultas. */
export interface Pair {
  fisio: string;
  paciente: string;
  /** [from, to): a calendar month (UTC) in which this paciente has consultas, as ISO instants. */
  from: string;
  to: string;
}

export interface BenchData {
  pairs: Pair[];
  /** The commonest last names among the pacientes. */
  surnames: string[];
}
