import type { AppRole, Auth } from "../../db/session";
import { ApiError } from "../errors";

/** A route open to some roles only: 403 for the others (the database refuses them too). */
export function allowRoles(auth: Auth, ...roles: AppRole[]): void {
  if (!roles.includes(auth.role)) throw new ApiError("forbidden", "Not allowed for this role");
}
