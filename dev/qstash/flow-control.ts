/**
 * Flow-control keys (Upstash-Flow-Control-Key / -Value): per key, at most `parallelism` deliveries
 * in flight and at most `rate` deliveries started in any period-long span (a sliding window over the
 * start times, so no burst at a window boundary exceeds it either). A key takes the configuration
 * of the last message published with it, unless that part is pinned.
 */
import type { PublishSpec } from "./spec";

const DEFAULT_PERIOD_MS = 1000;

export interface FlowControlRecord {
  key: string;
  parallelism?: number;
  rate?: number;
  periodMs: number;
  pinnedParallelism?: number;
  pinnedRate?: { rate?: number; periodMs: number };
  paused: boolean;
  /** Start times (engine clock, oldest first) that still count against the rate. */
  starts: number[];
}

export interface FlowControlUsage {
  /** Deliveries of the key in flight. */
  active: number;
  /** Messages of the key that are due but held back. */
  waiting: number;
}

export class FlowControls {
  private readonly keys = new Map<string, FlowControlRecord>();

  /** The key's record, created if new. */
  ensure(key: string): FlowControlRecord {
    let record = this.keys.get(key);
    if (!record) {
      record = { key, periodMs: DEFAULT_PERIOD_MS, paused: false, starts: [] };
      this.keys.set(key, record);
    }
    return record;
  }

  get(key: string): FlowControlRecord | undefined {
    return this.keys.get(key);
  }

  all(): FlowControlRecord[] {
    return [...this.keys.values()];
  }

  /** A publish with this key: its configuration becomes the key's (the pinned parts excepted). */
  configure(spec: PublishSpec): void {
    if (spec.flowControlKey === undefined) return;
    const record = this.ensure(spec.flowControlKey);
    record.parallelism = spec.parallelism;
    record.rate = spec.rate;
    record.periodMs = spec.periodMs ?? DEFAULT_PERIOD_MS;
  }

  limits(record: FlowControlRecord): { parallelism?: number; rate?: number; periodMs: number } {
    return {
      parallelism: record.pinnedParallelism ?? record.parallelism,
      rate: record.pinnedRate ? record.pinnedRate.rate : record.rate,
      periodMs: record.pinnedRate?.periodMs ?? record.periodMs,
    };
  }

  /** 0 when a delivery of the key may start now (as far as the rate goes), else ms to wait. */
  rateWait(record: FlowControlRecord, now: number): number {
    const { rate, periodMs } = this.limits(record);
    if (rate === undefined) return 0;
    this.prune(record, now, periodMs);
    if (record.starts.length < rate) return 0;
    return record.starts[record.starts.length - rate]! + periodMs - now;
  }

  private prune(record: FlowControlRecord, now: number, periodMs: number): void {
    let expired = 0;
    while (expired < record.starts.length && record.starts[expired]! + periodMs <= now) expired += 1;
    if (expired > 0) record.starts.splice(0, expired);
  }

  /** Counts a started delivery against the key's rate (if it has one). */
  take(record: FlowControlRecord, now: number): void {
    if (this.limits(record).rate !== undefined) record.starts.push(now);
  }

  pin(key: string, options: { parallelism?: number; rate?: number; periodMs?: number }): void {
    const record = this.ensure(key);
    if (options.parallelism !== undefined) record.pinnedParallelism = options.parallelism;
    if (options.rate !== undefined || options.periodMs !== undefined) {
      record.pinnedRate = {
        rate: options.rate ?? record.pinnedRate?.rate ?? record.rate,
        periodMs: options.periodMs ?? record.pinnedRate?.periodMs ?? record.periodMs,
      };
    }
  }

  unpin(key: string, options: { parallelism: boolean; rate: boolean }): boolean {
    const record = this.keys.get(key);
    if (!record) return false;
    if (options.parallelism) record.pinnedParallelism = undefined;
    if (options.rate) record.pinnedRate = undefined;
    return true;
  }

  /** Forgets the starts counted so far: a new period begins now. */
  resetRate(key: string): boolean {
    const record = this.keys.get(key);
    if (!record) return false;
    record.starts = [];
    return true;
  }

  /** FlowControlInfo as the client types it (ratePeriod in seconds, ratePeriodStart unix seconds). */
  info(record: FlowControlRecord, usage: FlowControlUsage, now: number): Record<string, unknown> {
    const { parallelism, rate, periodMs } = this.limits(record);
    this.prune(record, now, periodMs);
    return {
      flowControlKey: record.key,
      waitListSize: usage.waiting,
      parallelismMax: parallelism ?? 0,
      parallelismCount: usage.active,
      rateMax: rate ?? 0,
      rateCount: record.starts.length,
      ratePeriod: Math.round(periodMs / 1000),
      ratePeriodStart: Math.floor((record.starts[0] ?? now) / 1000),
      isPaused: record.paused,
      isPinnedParallelism: record.pinnedParallelism !== undefined,
      isPinnedRate: record.pinnedRate !== undefined,
    };
  }
}
