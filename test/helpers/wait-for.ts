/** Polls a condition until it holds: tests wait for states, they never sleep for a guessed time. */

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Resolves with the first truthy value `probe` returns (a throw counts as "not yet"); rejects
 * after the timeout with `what` and the last value or error seen.
 */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  const interval = options.intervalMs ?? 50;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
