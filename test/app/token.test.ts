/** `npm run token`: a development JWT for a seeded user, that the API accepts; refused in production. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../functions/env";
import { verifyToken } from "../../functions/middleware/auth";
import { testBackends } from "../harness/backends";
import { createFixture, type Fixture, ownerSessions } from "../harness/db";
import { startTestEndpoint, type TestEndpoint } from "../harness/endpoint";

const backends = await testBackends();
const SECRET = "token-script-test-secret-0123456789-abcdef";

function token(args: string[], env: Record<string, string>) {
  return promisify(execFile)(
    process.execPath,
    ["node_modules/tsx/dist/cli.mjs", "scripts/token.ts", ...args],
    {
      env: { ...process.env, JWT_SECRET: SECRET, ENVIRONMENT: "development", ...env },
      timeout: 60_000,
    },
  );
}
const verify = (jwt: string) => verifyToken(jwt.trim(), { JWT_SECRET: SECRET, JWT_MAX_AGE: "12h" } as Env);

describe.each(backends)("npm run token on $name", ({ name, skip }) => {
  let db: TestEndpoint;
  let fx: Fixture;
  let env: Record<string, string>;
  beforeAll(async () => {
    if (skip) return;
    db = await startTestEndpoint(name, { prefix: "token", migrate: true });
    const owner = ownerSessions(db.ownerUrl);
    fx = await createFixture(owner);
    await owner.end();
    env = {
      DATABASE_OWNER_URL: db.ownerUrl,
      NEON_WS_PROXY: db.endpoint.wsProxy,
      NEON_FETCH_ENDPOINT: db.endpoint.sqlUrl,
    };
  });
  afterAll(async () => {
    await db?.close();
  });

  it.skipIf(skip)(
    "mints a token for the first seeded fisioterapeuta, which the API accepts",
    async () => {
      const { stdout } = await token(["--role", "fisioterapeuta"], env);
      const auth = await verify(stdout);
      expect(auth.role).toBe("fisioterapeuta");
      expect([fx.fisioA, fx.fisioB]).toContain(auth.userId);
    },
    60_000,
  );

  it.skipIf(skip)(
    "takes --sub, and refuses a bad role, a bad sub and production",
    async () => {
      const sub = crypto.randomUUID();
      expect(await verify((await token(["--role", "paciente", "--sub", sub], env)).stdout)).toEqual({
        userId: sub,
        role: "paciente",
      });
      for (const [args, extra] of [
        [["--role", "root"], {}],
        [["--role", "admin", "--sub", "42"], {}],
        [["--role", "admin"], { ENVIRONMENT: "production" }],
      ] as [string[], Record<string, string>][]) {
        const err = await token(args, { ...env, ...extra }).catch((e) => e);
        expect(err.code, args.join(" ")).toBe(2);
        expect(err.stdout).toBe("");
      }
    },
    60_000,
  );
});
