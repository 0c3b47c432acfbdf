/** A FIFO async mutex: PGlite is one Postgres session, so every unit of client work takes turns. */
export class Mutex {
  private locked = false;
  private queue: (() => void)[] = [];

  acquire(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.locked = false;
  }
}
