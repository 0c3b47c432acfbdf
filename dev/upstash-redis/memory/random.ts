/** Random choices for the commands that make them (RANDOMKEY, SPOP, SRANDMEMBER, HRANDFIELD). */

/** One item chosen at random; undefined when there are none. */
export function randomItem<T>(items: T[]): T | undefined {
  return items[Math.floor(Math.random() * items.length)];
}

/** Up to n distinct items in random order (a Fisher-Yates shuffle of a copy). */
export function pick<T>(items: Iterable<T>, n: number): T[] {
  const all = [...items];
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, n);
}

/** Exactly n items drawn independently, repeats allowed (the negative counts of SRANDMEMBER and
 * HRANDFIELD); none when there is nothing to draw from. */
export function pickRepeating<T>(items: T[], n: number): T[] {
  return items.length ? Array.from({ length: n }, () => randomItem(items)!) : [];
}
