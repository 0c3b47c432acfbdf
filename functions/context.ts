import type { Env, RawEnv } from "./env";
import type { Services } from "./services";

/** The authenticated caller, from the JWT. */
export interface Auth {
  userId: string;
  role: "admin" | "fisioterapeuta" | "paciente";
}

export interface AppEnv {
  Bindings: RawEnv;
  Variables: {
    requestId: string;
    env: Env;
    services: Services;
    auth?: Auth;
  };
}
