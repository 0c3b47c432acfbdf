/**
 * The alert state machine, pure: one instance of a rule (a rule and one label set of its metric)
 * moves on the newest sample of that label set, and says which notifications to send.
 *
 *   inactive ──holds──▶ pending ──held for `for`──▶ firing ──stops holding──▶ resolved ──▶ inactive
 *       ▲                  │ stops holding                                    │ holds
 *       └──────────────────┘                                                  ▼ pending (or firing if for = 0)
 *
 * Every time is a sample time (analytics.metricas.em), never the clock of the run, so a run
 * repeated on the same samples decides exactly the same (duplicate job deliveries are no-ops) and
 * each transition has a stable time to derive its deduplication id from. `now` only decides
 * whether the newest sample is fresh:
 *
 * - No sample, a stale one (older than STALE_AFTER_MS at `now`), or one not newer than the last
 *   evaluated: nothing changes and nothing is sent (no data neither fires nor resolves: no
 *   flapping; a job run repeated on the same samples is a no-op).
 * - `for` is measured over consecutive samples that all hold the condition, none more than
 *   STALE_AFTER_MS after the previous one: a gap in the data restarts pending.
 * - Notifications: "firing" when the instance fires, "resolved" when a firing instance stops
 *   holding. Two "firing" notifications of one instance are never less than `repeat` apart: a
 *   still-firing alert is announced again once `repeat` has passed, and an alert that fires again
 *   within `repeat` of its last announcement is not announced (its episode stays silent until
 *   `repeat` passes). A "resolved" is sent only for an episode that was announced, so every
 *   "resolved" follows a "firing".
 */

export type Operator = ">" | ">=" | "<" | "<=";
export const OPERATORS = [">", ">=", "<", "<="] as const satisfies readonly Operator[];
export type AlertState = "inactive" | "pending" | "firing" | "resolved";
export const ALERT_STATES = [
  "inactive",
  "pending",
  "firing",
  "resolved",
] as const satisfies readonly AlertState[];

/** A sample this old (at `now`) is no evidence: the metric poll runs every minute. */
export const STALE_AFTER_MS = 5 * 60_000;

export interface RuleSpec {
  operator: Operator;
  threshold: number;
  forMs: number;
  repeatMs: number;
}

/** One instance's memory between runs. Times are epoch milliseconds of samples. */
export interface InstanceState {
  state: AlertState;
  /** When `state` began. */
  since: number | null;
  /** The first sample of the current run of holding samples (pending and firing). */
  activeSince: number | null;
  /** The newest sample evaluated, and its value. */
  lastSampleAt: number | null;
  value: number | null;
  /** The last "firing" notification. */
  notifiedAt: number | null;
  /** Whether the current firing episode was announced (so its resolve is announced too). */
  notified: boolean;
}

export interface Sample {
  at: number;
  value: number;
}

export type NotificationKind = "firing" | "resolved";

export interface Transition {
  from: AlertState;
  to: AlertState;
  /** The sample time of the change. */
  at: number;
  value: number;
  /** What to announce, if anything. */
  notify: NotificationKind | null;
}

export interface StepResult {
  state: InstanceState;
  /** In order; empty when nothing changed. A repeated announcement is firing → firing. */
  transitions: Transition[];
}

export const INITIAL_STATE: InstanceState = {
  state: "inactive",
  since: null,
  activeSince: null,
  lastSampleAt: null,
  value: null,
  notifiedAt: null,
  notified: false,
};

/** Whether `value` meets the rule's condition. No equality operator: floats are never compared with =. */
export function holds(operator: Operator, value: number, threshold: number): boolean {
  switch (operator) {
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
    case "<":
      return value < threshold;
    case "<=":
      return value <= threshold;
  }
}

/** Advances one instance on its newest sample (null: none) at `now`. */
export function step(rule: RuleSpec, prev: InstanceState, sample: Sample | null, now: number): StepResult {
  const unchanged: StepResult = { state: prev, transitions: [] };
  if (!sample || !Number.isFinite(sample.value)) return unchanged;
  if (now - sample.at > STALE_AFTER_MS) return unchanged;
  // The sample already evaluated (a repeated run) or an older one: it was taken into account.
  if (prev.lastSampleAt !== null && sample.at <= prev.lastSampleAt) return unchanged;

  const at = sample.at;
  const value = sample.value;
  const gap = prev.lastSampleAt !== null && at - prev.lastSampleAt > STALE_AFTER_MS;
  const seen: InstanceState = { ...prev, lastSampleAt: at, value };
  const transitions: Transition[] = [];
  const move = (s: InstanceState, to: AlertState, notify: NotificationKind | null = null): InstanceState => {
    transitions.push({ from: s.state, to, at, value, notify });
    return { ...s, state: to, since: at };
  };
  /** Into firing: announced unless the last announcement is less than `repeat` ago. */
  const fire = (s: InstanceState): InstanceState => {
    const announce = s.notifiedAt === null || at - s.notifiedAt >= rule.repeatMs;
    const next = move(s, "firing", announce ? "firing" : null);
    return announce ? { ...next, notifiedAt: at, notified: true } : { ...next, notified: false };
  };

  if (!holds(rule.operator, value, rule.threshold)) {
    switch (prev.state) {
      case "firing": {
        const next = move(seen, "resolved", prev.notified ? "resolved" : null);
        return { state: { ...next, activeSince: null, notified: false }, transitions };
      }
      case "pending":
      case "resolved":
        return { state: { ...move(seen, "inactive"), activeSince: null }, transitions };
      case "inactive":
        return { state: seen, transitions };
    }
  }

  switch (prev.state) {
    case "inactive":
    case "resolved": {
      const active = { ...seen, activeSince: at };
      const next = rule.forMs <= 0 ? fire(active) : move(active, "pending");
      return { state: next, transitions };
    }
    case "pending": {
      // A gap in the data: the condition is not known to have held across it.
      const active = gap || prev.activeSince === null ? { ...seen, activeSince: at } : seen;
      if (at - active.activeSince! >= rule.forMs) return { state: fire(active), transitions };
      return { state: gap ? { ...active, since: at } : active, transitions };
    }
    case "firing": {
      if (seen.notifiedAt !== null && at - seen.notifiedAt < rule.repeatMs)
        return { state: seen, transitions };
      // Still firing and `repeat` has passed since the last announcement (or there was none in
      // this episode): announce it again.
      transitions.push({ from: "firing", to: "firing", at, value, notify: "firing" });
      return { state: { ...seen, notifiedAt: at, notified: true }, transitions };
    }
  }
}
