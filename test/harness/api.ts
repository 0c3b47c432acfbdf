/**
 * Calls to the worker's /v1 API as a given user, with the Neon HTTP round trips each call cost
 * (counted at the local endpoint).
 */
import type { Auth } from "../../db/session";
import { tokenFor } from "./auth";
import type { Cloud } from "./cloud";
import type { Json } from "./http";

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: Json;
  /** Neon HTTP requests the endpoint served while this call ran. */
  roundTrips: number;
}

export type CallApi = (
  auth: Auth | null,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<ApiAnswer>;

export function apiClient(cloud: Cloud): CallApi {
  const secret = cloud.vars.JWT_SECRET!;
  return async (auth, method, path, body, headers = {}) => {
    const h: Record<string, string> = { ...headers };
    if (auth) h.authorization = `Bearer ${await tokenFor(auth, secret)}`;
    if (body !== undefined) h["content-type"] = "application/json";
    const before = cloud.sqlRequests();
    const res = await fetch(`${cloud.workerUrl}${path}`, {
      method,
      headers: h,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const roundTrips = cloud.sqlRequests() - before;
    let parsed: Json = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: kept as text for the assertion to show
    }
    return { status: res.status, headers: res.headers, body: parsed, roundTrips };
  };
}
