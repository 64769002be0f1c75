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
      do {
        this.#again = false;
        await this.#task();
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** No more runs; resolves once the current one, if any, has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }
}
