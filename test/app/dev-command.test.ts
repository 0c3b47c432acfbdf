import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dropDatabase, postgresAdminUrl, testBackends } from "../harness/backends";
import { json } from "../harness/http";

/**
 * `npm run dev` as a developer runs it (embedded defaults: PGlite, in-memory Redis), on ports of
 * its own so it cannot collide with a dev session, with a throwaway data directory.
 */
const backends = await testBackends();

describe.each(backends)("npm run dev on $name", ({ name, skip }) => {
  // Below Linux's ephemeral range (32768-60999), where every other test's port-0 listener and
  // outgoing connection lands: a fixed port there collided with one now and then.
  const base = 20_000 + Math.floor(Math.random() * 12_000);
  const ports = { neon: base, redis: base + 1, qstash: base + 2, worker: base + 3 };
  const database = `fisioflow_dev_${process.pid}`;
  const overrides = {
    NEON_FETCH_ENDPOINT: `http://127.0.0.1:${ports.neon}/sql`,
    NEON_WS_PROXY: `127.0.0.1:${ports.neon}/v1`,
    NEON_API_URL: `http://127.0.0.1:${ports.neon}/api/v2`,
    DATABASE_URL: `postgresql://fisioflow_app:app-local-password@localhost:${ports.neon}/${database}`,
    DATABASE_OWNER_URL: `postgresql://fisioflow_owner:owner-local-password@localhost:${ports.neon}/${database}`,
    UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${ports.redis}`,
    QSTASH_URL: `http://127.0.0.1:${ports.qstash}`,
    PUBLIC_URL: `http://127.0.0.1:${ports.worker}`,
    LOCAL_POSTGRES_URL: name === "postgres" ? postgresAdminUrl() : "",
    REDIS_URL: "",
  };
  const dataDir = mkdtempSync(join(tmpdir(), "fisioflow-dev-"));
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
    if (name === "postgres" && !skip) await dropDatabase(database);
  });

  it.skipIf(skip)(
    "starts the local cloud and the worker, serves /health with db ok, and Ctrl-C stops it all",
    async () => {
      const started = Date.now();
      child = spawn(process.execPath, ["node_modules/tsx/dist/cli.mjs", "dev/index.ts"], {
        env: { ...process.env, ...overrides, LOCAL_DATA_DIR: dataDir, WRANGLER_SEND_METRICS: "false" },
        stdio: ["ignore", "pipe", "pipe"],
        detached: false,
      });
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          if (output.includes("ready. Ctrl-C")) {
            clearInterval(timer);
            resolve();
          } else if (
            output.includes("[dev] failed") ||
            child!.exitCode !== null ||
            Date.now() - started > 90_000
          ) {
            clearInterval(timer);
            reject(new Error(`npm run dev did not get ready:\n${output.slice(-3000)}`));
          }
        }, 200);
      });
      const res = await fetch(`http://127.0.0.1:${ports.worker}/health`);
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body.checks.db.status).toBe("ok");
      expect(body.checks.redis.status).toBe("ok");
      expect(output).toContain(`(${name}, database ${database})`);
      expect(output).toContain("heartbeat, partitions");
      // The connection strings of the local roles are never printed.
      expect(output).not.toContain("app-local-password");
      expect(output).not.toContain("local-neon-api-key");
      // The local Neon API answers beside the endpoint, with the main branch.
      const branches = await fetch(
        `http://127.0.0.1:${ports.neon}/api/v2/projects/fisioflow-local/branches`,
        {
          headers: { authorization: "Bearer local-neon-api-key" },
        },
      );
      expect(branches.status).toBe(200);
      expect((await json(branches)).branches.map((b: { name: string }) => b.name)).toEqual(["main"]);

      child.kill("SIGINT");
      const code = await new Promise<number | null>((r) => child!.once("exit", r));
      expect(code).toBe(0);
      // Nothing is left listening.
      for (const port of Object.values(ports)) {
        await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
      }
    },
    150_000,
  );
});
