/**
 * A paciente as a caller last read it, cached in Redis for PACIENTE_CACHE_TTL seconds: one hash
 * per paciente, one field per caller, because RLS decides per caller what a read returns (a cached
 * answer is only ever served to the caller the database gave it to). Every write through the API
 * drops the whole hash before answering, so the writer never reads stale data. Writes made
 * elsewhere (jobs, the owner) show after at most the TTL; a read racing a write can put back the
 * old version until then, which the short TTL bounds.
 */
import type { Auth } from "../../../db/session";
import type { Paciente } from "./schema";

export const PACIENTE_CACHE_TTL_SECONDS = 60;

export interface CachedPaciente {
  paciente: Paciente;
  version: string;
}

export const pacienteCacheKey = (id: string) => `paciente:${id}`;
export const callerField = (auth: Auth) => `${auth.role}:${auth.userId}`;
