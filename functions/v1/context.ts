import type { CallerDb } from "../../db/caller";
import type { Auth } from "../../db/session";
import type { AppEnv } from "../context";

/**
 * Inside /v1 the caller is never optional: `requireAuth` ran for every route, and `db` is the
 * caller-scoped handle (db/caller.ts), the only database access route code has.
 */
export interface V1Env {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { auth: Auth; db: CallerDb };
}
