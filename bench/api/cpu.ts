/**
 * CPU accounting for one measured run (Linux /proc; elsewhere everything reads 0): CPU seconds of
 * the processes the bench started (by name), of the PostgreSQL backends serving the bench
 * database (found by their command line, so other databases' work on the same server is not
 * counted), of redis-server, of this process (autocannon), and of the whole machine.
 *
 * Processes come and go during a run (pgbench and its backends), so the sampler reads them every
 * second and keeps, per pid, the first and the last reading: a process that exits loses at most
 * its last second.
 */
import { readdirSync, readFileSync } from "node:fs";
import { cpuSeconds } from "./common";

export interface MachineCpu {
  busyPercent: number;
  stealPercent: number;
}

/** Machine-wide CPU ticks from /proc/stat: all, idle (+iowait), steal. */
function machineTicks(): { all: number; idle: number; steal: number } {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { all: f.reduce((a, b) => a + b, 0), idle: f[3]! + f[4]!, steal: f[7] ?? 0 };
  } catch {
    return { all: 0, idle: 0, steal: 0 };
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Pids of PostgreSQL backends connected to `database`, and of redis-server. */
function scanShared(database: string): { postgres: number[]; redis: number[] } {
  const postgres: number[] = [];
  const redis: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return { postgres, redis };
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const comm = read(`/proc/${e}/comm`).trim();
    if (comm === "redis-server") redis.push(Number(e));
    else if (comm === "postgres") {
      // "postgres: [<cluster>: ]<user> <database> <client> <state>"
      const cmd = read(`/proc/${e}/cmdline`).replaceAll("\0", " ");
      if (cmd.startsWith("postgres: ") && cmd.includes(` ${database} `)) postgres.push(Number(e));
    }
  }
  return { postgres, redis };
}

/** Every process under `root` (not itself), with its name (/proc/<pid>/comm); Linux only, else none. */
export function descendants(root: number | undefined): { pid: number; comm: string }[] {
  if (!root) return [];
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    // "<pid> (<comm>) <state> <ppid> ..."; comm may hold spaces and parentheses.
    const ppid = Number(read(`/proc/${e}/stat`).split(") ")[1]?.split(" ")[1]);
    if (!Number.isFinite(ppid)) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(e));
    children.set(ppid, list);
  }
  const out: { pid: number; comm: string }[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push({ pid, comm: read(`/proc/${pid}/comm`).trim() });
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

export class CpuSampler {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private readonly group = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;
  private ticks0 = machineTicks();
  private self0 = process.cpuUsage();

  /**
   * `named`: group name → pid(s) (re-read at every sample, so a pid may be added later). redis-server
   * is shared with other work on the machine: count it only for a variant that uses it. `driver`:
   * count this process (the load generator) too.
   */
  constructor(
    private readonly named: () => Record<string, number | number[] | undefined>,
    private readonly database: string,
    private readonly opts: { redis: boolean; driver: boolean },
  ) {}

  private sample(initial: boolean): void {
    const seen: [number, string][] = [];
    for (const [name, pids] of Object.entries(this.named()))
      for (const pid of Array.isArray(pids) ? pids : [pids]) if (pid) seen.push([pid, name]);
    const shared = scanShared(this.database);
    for (const pid of shared.postgres) seen.push([pid, "postgres"]);
    if (this.opts.redis) for (const pid of shared.redis) seen.push([pid, "redis-server"]);
    for (const [pid, name] of seen) {
      const cpu = cpuSeconds(pid);
      if (!this.group.has(pid)) {
        this.group.set(pid, name);
        // A process already running when the run began counts from then; a new one from its start.
        this.first.set(pid, initial ? cpu : 0);
      }
      if (cpu > 0) this.last.set(pid, cpu);
    }
  }

  start(): void {
    this.ticks0 = machineTicks();
    this.self0 = process.cpuUsage();
    this.sample(true);
    this.timer = setInterval(() => this.sample(false), 1000);
  }

  /** CPU seconds per group over the run, and the machine's busy share. */
  stop(): { processes: Record<string, number>; machine: MachineCpu } {
    clearInterval(this.timer);
    this.sample(false);
    const processes: Record<string, number> = {};
    for (const [pid, name] of this.group) {
      const used = (this.last.get(pid) ?? this.first.get(pid)!) - this.first.get(pid)!;
      processes[name] = Math.round(((processes[name] ?? 0) + Math.max(0, used)) * 100) / 100;
    }
    if (this.opts.driver) {
      const self = process.cpuUsage(this.self0);
      processes["bench driver (autocannon)"] = Math.round((self.user + self.system) / 1e4) / 100;
    }
    const t = machineTicks();
    const all = Math.max(1, t.all - this.ticks0.all);
    return {
      processes,
      machine: {
        busyPercent: Math.round((100 * (all - (t.idle - this.ticks0.idle))) / all),
        stealPercent: Math.round((1000 * (t.steal - this.ticks0.steal)) / all) / 10,
      },
    };
  }
}
