import type { Auth } from "../db/session";
import type { Env, RawEnv } from "./env";
import type { Services } from "./services";

/** The authenticated caller, from the JWT: the identity the database session is given. */
export type { Auth };

export interface AppEnv {
  Bindings: RawEnv;
  Variables: {
    requestId: string;
    env: Env;
    services: Services;
    auth?: Auth;
  };
}
