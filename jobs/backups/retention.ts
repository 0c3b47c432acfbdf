/**
 * Backup branches and their retention (the plan's section 3.3), the pure part: how a backup
 * branch of main is named, and which to keep. A scheduled job creates one branch per run named by
 * its UTC time; retention keeps the newest backup of each of the last `daily` UTC days and of each
 * of the last `weekly` ISO weeks (Monday-based, UTC), and never the newest backup of all; the rest
 * are deleted. Deterministic: the same branches and policy always give the same answer, so a
 * retried or duplicated job run deletes nothing extra.
 */

export const BACKUP_PREFIX = "backup/";

export interface RetentionPolicy {
  daily: number;
  weekly: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { daily: 7, weekly: 4 };

/**
 * A time as a name: `2026-11-29T03-00-00Z` (sortable, no colons, so a valid Neon branch name and
 * R2 key). The backup branches and the exports (jobs/exports) are named this way.
 */
export function timeName(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace(/:/g, "-")}Z`;
}

/** The time a timeName names, or null for anything else. */
export function nameTime(name: string): Date | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})Z$/.exec(name);
  if (!m) return null;
  const d = new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** `backup/2026-11-29T03-00-00Z`. */
export function backupName(at: Date): string {
  return `${BACKUP_PREFIX}${timeName(at)}`;
}

/** The time a backup branch was named for, or null for a branch that is not a backup. */
export function backupTime(name: string): Date | null {
  return name.startsWith(BACKUP_PREFIX) ? nameTime(name.slice(BACKUP_PREFIX.length)) : null;
}

function validate(policy: RetentionPolicy): void {
  for (const [k, v] of Object.entries(policy))
    if (!Number.isInteger(v) || v < 0 || v > 366)
      throw new Error(`retention ${k} must be an integer from 0 to 366, got ${v}`);
  if (policy.daily + policy.weekly === 0)
    throw new Error("retention keeps nothing: set daily or weekly above 0");
}

const DAY = 86_400_000;
const dayOf = (d: Date) => Math.floor(d.getTime() / DAY);
/** Days since the epoch of the Monday that starts d's ISO week (1970-01-01 was a Thursday). */
const weekOf = (d: Date) => Math.floor((dayOf(d) + 3) / 7);

/**
 * Which backup branches to keep and which to delete. Branches that are not backups are ignored
 * (neither kept nor deleted).
 */
export function retention(
  names: readonly string[],
  policy: RetentionPolicy = DEFAULT_RETENTION,
): { keep: string[]; delete: string[] } {
  return retainByTime(
    names.map((name) => ({ name, at: backupTime(name) })),
    policy,
  );
}

/**
 * The same rule for anything named by time (the encrypted exports, jobs/exports): of the items
 * whose `at` is not null, which to keep and which to delete. Items without a time are ignored.
 */
export function retainByTime(
  items: readonly { name: string; at: Date | null }[],
  policy: RetentionPolicy = DEFAULT_RETENTION,
): { keep: string[]; delete: string[] } {
  validate(policy);
  const backups = items
    .filter((b): b is { name: string; at: Date } => b.at !== null)
    .sort((a, b) => b.at.getTime() - a.at.getTime()); // newest first
  const keep = new Set<string>();
  if (backups.length) keep.add(backups[0]!.name);
  const newestPer = (key: (d: Date) => number, count: number) => {
    const seen = new Set<number>();
    for (const b of backups) {
      const k = key(b.at);
      if (seen.has(k)) continue;
      if (seen.size === count) break;
      seen.add(k);
      keep.add(b.name);
    }
  };
  newestPer(dayOf, policy.daily);
  newestPer(weekOf, policy.weekly);
  return {
    keep: backups.filter((b) => keep.has(b.name)).map((b) => b.name),
    delete: backups.filter((b) => !keep.has(b.name)).map((b) => b.name),
  };
}
