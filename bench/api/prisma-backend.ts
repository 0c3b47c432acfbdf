/**
 * The plan's own stack as a benchmark peer: Prisma 7 with @prisma/adapter-neon (the WebSocket
 * Pool, as Prisma's Neon adapter needs for a transaction: its HTTP adapter has none, and RLS needs
 * the identity and the query in one transaction). Installed on demand into bench/prisma (about
 * 300 MB, so not a project dependency) and generated offline. The adapter must use the project's
 * own copy of @neondatabase/serverless, the one db/neon-config routes to the local endpoint, so the
 * copy npm puts beside it is removed.
 */
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BENCH_SIGNER } from "./common";

export const PRISMA_DIR = "bench/prisma";

/** Installs (npm ci) and generates the Prisma client unless already there; prints what it does. */
export function preparePrisma(log: (line: string) => void): void {
  const npm = process.env.npm_execpath;
  const npmArgs = (args: string[]) =>
    npm ? ([process.execPath, [npm, ...args]] as const) : (["npm", args] as const);
  if (!existsSync(join(PRISMA_DIR, "node_modules", "prisma"))) {
    log("prisma peer: installing Prisma 7 into bench/prisma (once, about 300 MB)…");
    const [cmd, args] = npmArgs(["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
    execFileSync(cmd, [...args], { cwd: PRISMA_DIR, stdio: ["ignore", "inherit", "inherit"] });
  }
  rmSync(join(PRISMA_DIR, "node_modules", "@neondatabase"), { recursive: true, force: true });
  if (!existsSync(join(PRISMA_DIR, "generated", "client.ts"))) {
    log("prisma peer: generating the client offline…");
    execFileSync(join("node_modules", ".bin", "prisma"), ["generate"], {
      cwd: PRISMA_DIR,
      stdio: ["ignore", "ignore", "inherit"],
      // Generation needs no schema engine; nothing is downloaded.
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: "/bin/true",
        PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING: "1",
      },
    });
  }
}

/** The four benchmarked operations, as a Prisma user writes them, each under RLS. */
export interface PrismaOps {
  pacienteById(userId: string, id: string): Promise<unknown | null>;
  consultasOfPaciente(
    userId: string,
    pacienteId: string,
    from: string,
    to: string,
    take: number,
  ): Promise<unknown[]>;
  searchPacientes(userId: string, text: string, params: unknown[]): Promise<unknown[]>;
  bookConsulta(userId: string, pacienteId: string, at: string, duracaoMin: number): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * A PrismaClient over PrismaNeon (a WebSocket Pool of `poolSize` through the local endpoint; the
 * caller configures the driver with db/neon-config first). Each operation is a batch transaction:
 * the identity statement, then the query (RLS needs both in one transaction). Search has no
 * Prisma query API: raw SQL, as a Prisma user would write it.
 */
export async function prismaOps(connectionString: string, role: string, poolSize = 20): Promise<PrismaOps> {
  // Loaded only when the Prisma peer runs: the generated client exists after preparePrisma().
  const clientPath = "../prisma/generated/client.ts";
  const adapterPath = "../prisma/node_modules/@prisma/adapter-neon/dist/index.mjs";
  const [{ PrismaClient }, { PrismaNeon }] = (await Promise.all([
    import(clientPath),
    import(adapterPath),
  ])) as [
    // biome-ignore lint/suspicious/noExplicitAny: the generated client's types exist only after generation
    { PrismaClient: any },
    // biome-ignore lint/suspicious/noExplicitAny: the adapter is outside the project's dependencies
    { PrismaNeon: any },
  ];
  const prisma = new PrismaClient({ adapter: new PrismaNeon({ connectionString, max: poolSize }) });
  const identity = (token: string) =>
    prisma.$executeRaw`SELECT app.entrar(set_config('app.identity', ${token}, true))`;
  const inTx = async <T>(userId: string, query: unknown): Promise<T> => {
    const token = await BENCH_SIGNER.token(userId, role as "fisioterapeuta");
    const [, result] = await prisma.$transaction([identity(token), query]);
    return result as T;
  };
  return {
    pacienteById: (userId, id) => inTx(userId, prisma.paciente.findUnique({ where: { id } })),
    consultasOfPaciente: (userId, pacienteId, from, to, take) =>
      inTx(
        userId,
        prisma.consulta.findMany({
          where: { paciente_id: pacienteId, data_consulta: { gte: new Date(from), lt: new Date(to) } },
          orderBy: [{ data_consulta: "asc" }, { id: "asc" }],
          take,
        }),
      ),
    searchPacientes: (userId, text, params) => inTx(userId, prisma.$queryRawUnsafe(text, ...params)),
    bookConsulta: (userId, pacienteId, at, duracaoMin) =>
      inTx(
        userId,
        prisma.consulta.create({
          data: {
            paciente_id: pacienteId,
            fisioterapeuta_id: userId,
            data_consulta: new Date(at),
            duracao_min: duracaoMin,
          },
        }),
      ),
    close: () => prisma.$disconnect(),
  };
}
