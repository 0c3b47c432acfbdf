/**
 * The app's bindings for ours-node and ours-workerd alike: IN_PROCESS_ENV (test/harness/app), then
 * ENVIRONMENT=development (production refuses the local cloud's values), then the APP_* variables the bench passes (prefix stripped).
 */
import { IN_PROCESS_ENV } from "../../test/harness/app";

export function appBindings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    ...IN_PROCESS_ENV,
    ENVIRONMENT: "development",
    ...Object.fromEntries(
      Object.entries(env)
        .filter(([k, v]) => k.startsWith("APP_") && v !== undefined)
        .map(([k, v]) => [k.slice(4), v as string]),
    ),
  };
}
