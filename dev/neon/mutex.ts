/** A FIFO async mutex: PGlite is one Postgres session, so every unit of client work takes turns. */
export class Mutex {
  private locked = false;
  private queue: (() => void)[] = [];

  /** Resolves once the lock is ours; with `timeoutMs`, rejects with `onTimeout()` if still waiting then. */
  acquire(timeoutMs?: number, onTimeout?: () => Error): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      if (timeoutMs === undefined) {
        this.queue.push(resolve);
        return;
      }
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(onTimeout ? onTimeout() : new Error("timed out waiting for the lock"));
      }, timeoutMs);
      this.queue.push(waiter);
    });
  }

  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.locked = false;
  }
}
