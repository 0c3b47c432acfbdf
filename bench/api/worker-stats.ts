/** Where the bench's worker entries (worker-ours.ts, worker-ok.ts) answer with their counters. */
export const STATS_PATH = "/__bench/stats";
