/**
 * Runs a task one at a time, however often it is asked for: a request while it runs is folded
 * into one more run after the current one, which the request's promise waits for. PLEG's relist
 * and the proxy's sync are this shape.
 */
export class CoalescingRunner {
  readonly #task: () => Promise<void>;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(task: () => Promise<void>) {
    this.#task = task;
  }

  /** Resolves once a run that started after this call has ended (at once after stop()). */
  run(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          // Called through an async function, so that a task that throws at once still ends the
          // loop after #running is set (a synchronous end would clear it before it is set).
          await (async () => this.#task())();
        } while (this.#again && !this.#stopped);
      } finally {
        // At once, as the loop ends: a request from here on starts a run of its own.
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** No more runs; resolves once the current one, if any, has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }
}
