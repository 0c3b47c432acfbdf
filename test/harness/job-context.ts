import type { JobContext } from "../../jobs/types";

/**
 * A JobContext for running a job directly (no QStash, no worker): a silent logger, a fixed clock,
 * no Redis and no publisher unless given, a fresh message id. `over` sets anything else.
 */
export function jobContext(over: Partial<JobContext> & { now: Date }): JobContext {
  const { now, ...rest } = over;
  return {
    logger: { info() {}, warn() {}, error() {} },
    clock: { now: () => now },
    redis: null,
    publisher: null,
    messageId: `msg_${crypto.randomUUID()}`,
    retried: 0,
    waitUntil: () => {},
    ...rest,
  };
}
