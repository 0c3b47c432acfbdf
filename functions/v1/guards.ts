import type { AppRole, Auth } from "../../db/session";
import { ApiError } from "../errors";

/** A route open to some roles only: 403 for the others (the database refuses them too). */
export function allowRoles(auth: Auth, ...roles: AppRole[]): void {
  if (!roles.includes(auth.role)) throw new ApiError("forbidden", "Not allowed for this role");
}

/**
 * The fisioterapeuta a new record is written for: the one the body names, else the caller when
 * the caller is a fisioterapeuta; an admin who names none gets a 400. A fisioterapeuta naming
 * someone else is left to RLS (WITH CHECK), which answers 403.
 */
export function fisioterapeutaFor(auth: Auth, named: string | undefined): string {
  const id = named ?? (auth.role === "fisioterapeuta" ? auth.userId : undefined);
  if (!id) {
    throw new ApiError("bad_request", "fisioterapeuta_id is required", [
      { path: "fisioterapeuta_id", message: "required for admins" },
    ]);
  }
  return id;
}
