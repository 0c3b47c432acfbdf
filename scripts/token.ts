/**
 * `npm run -s token -- --role fisioterapeuta [--sub <uuid>] [--ttl 12h]`: a development JWT,
 * HS256 with the local JWT_SECRET (env, then .dev.vars / .dev.vars.example). Without --sub it
 * picks the first seeded fisioterapeuta or paciente (npm run db:seed); an admin gets a fixed
 * development id. The token alone goes to stdout, so `TOKEN=$(npm run -s token -- --role admin)`
 * works; what it chose goes to stderr. Refused when ENVIRONMENT is production.
 */
import { SignJWT } from "jose";
import { openClient } from "../db/owner-client";
import { appRoles, SYSTEM_SQL } from "../db/session";
import { arg, run } from "./lib/cli";
import { configureNeonFromEnv, resolveOwnerUrl } from "./lib/owner";
import { loadDevVars } from "./lib/vars";

const DEV_ADMIN_ID = "00000000-0000-4000-8000-0000000000ad";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function firstSeeded(role: "fisioterapeuta" | "paciente"): Promise<string> {
  const url = resolveOwnerUrl();
  if (!url) throw new Error("no DATABASE_OWNER_URL to find a seeded user in; pass --sub <uuid>");
  const { client, close } = await openClient(url, configureNeonFromEnv(url));
  try {
    await client.query("BEGIN");
    await client.query(SYSTEM_SQL);
    const table = role === "fisioterapeuta" ? "public.fisioterapeutas" : "public.pacientes";
    const { rows } = await client.query(`SELECT id FROM ${table} ORDER BY created_at, id LIMIT 1`);
    await client.query("COMMIT");
    if (!rows[0]) throw new Error(`no ${role} in the database: run npm run db:seed, or pass --sub <uuid>`);
    return String(rows[0].id);
  } finally {
    await close();
  }
}

run("token", async () => {
  const vars = { ...loadDevVars(), ...process.env } as Record<string, string | undefined>;
  if (vars.ENVIRONMENT === "production") {
    console.error("token: refused, ENVIRONMENT is production (development tokens are for local use)");
    process.exit(2);
  }
  const role = arg("role") ?? "fisioterapeuta";
  if (!(appRoles as readonly string[]).includes(role)) {
    console.error(`token: --role must be one of ${appRoles.join(", ")}`);
    process.exit(2);
  }
  const secret = vars.JWT_SECRET;
  if (!secret || secret.length < 32) {
    console.error("token: JWT_SECRET (at least 32 characters) is not set in the environment or .dev.vars");
    process.exit(2);
  }
  const given = arg("sub");
  if (given !== undefined && !UUID.test(given)) {
    console.error("token: --sub must be a uuid");
    process.exit(2);
  }
  const sub =
    given ?? (role === "admin" ? DEV_ADMIN_ID : await firstSeeded(role as "fisioterapeuta" | "paciente"));
  let jwt = new SignJWT({ role }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setIssuedAt();
  jwt = jwt.setExpirationTime(arg("ttl") ?? "12h");
  if (vars.JWT_ISSUER) jwt = jwt.setIssuer(vars.JWT_ISSUER);
  if (vars.JWT_AUDIENCE) jwt = jwt.setAudience(vars.JWT_AUDIENCE);
  const token = await jwt.sign(new TextEncoder().encode(secret));
  console.error(`token: ${role} ${sub}`);
  console.log(token);
});
