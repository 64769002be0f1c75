/**
 * Calling something until it succeeds, as the kubelet's wait.ExponentialBackoff loops do: after
 * each failure `onError` hears of it and of the wait, then the wait passes (from `initialMs`,
 * doubling up to `maxMs`); undefined once `signal` aborts, at once even mid-wait. A failure
 * `retryable` says no to is thrown at once.
 */
import { delay } from './clock.js';

export interface RetryOptions {
  initialMs: number;
  maxMs: number;
  signal: AbortSignal;
  /** The waits hold the process open (when nothing else would). */
  keepAlive?: boolean;
  /** Whether a failure is worth another try (default: every one). */
  retryable?(err: unknown): boolean;
  onError(err: unknown, retryInMs: number): void;
}

export async function retryUntilDone<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T | undefined> {
  const { signal } = options;
  for (let waitMs = options.initialMs; !signal.aborted; waitMs = Math.min(waitMs * 2, options.maxMs)) {
    try {
      return await attempt();
    } catch (err) {
      if (signal.aborted) return undefined;
      if (options.retryable && !options.retryable(err)) throw err;
      options.onError(err, waitMs);
      await delay(waitMs, signal, options.keepAlive);
    }
  }
  return undefined;
}
