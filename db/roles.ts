/** Who a request acts as: the roles the API knows, and a caller's identity. */
export const appRoles = ["admin", "fisioterapeuta", "paciente"] as const;
export type AppRole = (typeof appRoles)[number];

export interface Auth {
  userId: string;
  role: AppRole;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Refuses anything but a uuid and a known role: the values go into the signed identity. */
export function assertAuth(auth: Auth): Auth {
  if (!UUID.test(auth.userId)) throw new Error("auth.userId must be a uuid");
  if (!(appRoles as readonly string[]).includes(auth.role))
    throw new Error(`unknown role ${String(auth.role)}`);
  return auth;
}
