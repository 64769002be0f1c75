import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { retryUntilDone } from '../../../../common/util/retry.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('retryUntilDone', () => {
  test('tries again after each failure, waiting from the initial wait doubling to the cap, and resolves with the result', async () => {
    const waits: number[] = [];
    let calls = 0;
    const done = retryUntilDone(
      async () => {
        calls += 1;
        if (calls < 5) throw new Error(`failure ${calls}`);
        return 'registered';
      },
      { initialMs: 100, maxMs: 300, signal: new AbortController().signal, onError: (_err, ms) => waits.push(ms) },
    );
    await vi.advanceTimersByTimeAsync(100 + 200 + 300 + 300);
    expect(await done).toBe('registered');
    expect(waits).toEqual([100, 200, 300, 300]);
  });

  test('an abort ends it at once, mid-wait, with undefined', async () => {
    const stop = new AbortController();
    const done = retryUntilDone(() => Promise.reject(new Error('down')), { initialMs: 60_000, maxMs: 60_000, signal: stop.signal, onError: () => undefined });
    await vi.advanceTimersByTimeAsync(0);
    stop.abort();
    expect(await done).toBeUndefined();
  });

  test('a failure that is not retryable is thrown at once, without a wait', async () => {
    const errors: unknown[] = [];
    const done = retryUntilDone(() => Promise.reject(new Error('the pod network has another subnet')), {
      initialMs: 1000,
      maxMs: 1000,
      signal: new AbortController().signal,
      retryable: (err) => !(err as Error).message.includes('subnet'),
      onError: (err) => errors.push(err),
    });
    await expect(done).rejects.toThrow('the pod network has another subnet');
    expect(errors).toEqual([]);
  });
});
