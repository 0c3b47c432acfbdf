import type { OpenAPIHono } from "@hono/zod-openapi";
import type { V1Env } from "../context";

/** The /v1/exercicios routes (to be written: see functions/v1/pacientes for the pattern). */
export function registerExercicios(_app: OpenAPIHono<V1Env>) {}
