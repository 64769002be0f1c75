import { describe, expect, test } from 'vitest';
import { PodCache } from '../../../../agent/pleg/pod-cache.js';
import type { PodRef, RuntimePodStatus } from '../../../../agent/runtime/runtime.js';

const web: PodRef = { uid: 'uid-web', name: 'web', namespace: 'default' };
const db: PodRef = { uid: 'uid-db', name: 'db', namespace: 'default' };

/** A runtime whose reads are numbered (the number is the status's first sandbox id) and can be held open. */
function countingRuntime(): { reads: () => number; read: (pod: PodRef) => Promise<RuntimePodStatus>; hold: () => () => void } {
  let reads = 0;
  let gate: Promise<void> | undefined;
  return {
    reads: () => reads,
    read: async (pod) => {
      const n = ++reads;
      if (gate) await gate;
      return { pod, sandboxes: [{ id: `read-${n}`, state: 'ready', createdAt: 0, attempt: 0 }], containers: [] } as unknown as RuntimePodStatus;
    },
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

const readId = (status: RuntimePodStatus): string | undefined => status.sandboxes[0]?.id;

describe('PodCache', () => {
  test('a pod nothing happened to is read once', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache(runtime.read);
    expect(readId(await cache.get(web))).toBe('read-1');
    expect(readId(await cache.get(web))).toBe('read-1');
    expect(runtime.reads()).toBe(1);
  });

  test('a pod marked changed is read again, and only that pod', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache(runtime.read);
    await cache.get(web);
    await cache.get(db);
    cache.markChanged(web.uid);
    expect(readId(await cache.get(web))).toBe('read-3');
    expect(readId(await cache.get(db))).toBe('read-2');
  });

  test('refresh reads now and keeps what it read', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache(runtime.read);
    await cache.get(web);
    expect(readId(await cache.refresh(web))).toBe('read-2');
    expect(readId(await cache.get(web))).toBe('read-2');
  });

  test('a read the pod changed during is returned but not kept', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache(runtime.read);
    const release = runtime.hold();
    const reading = cache.get(web);
    cache.markChanged(web.uid);
    release();
    expect(readId(await reading)).toBe('read-1');
    expect(readId(await cache.get(web))).toBe('read-2');
  });

  test('markAllChanged has every pod read again', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache(runtime.read);
    await cache.get(web);
    await cache.get(db);
    cache.markAllChanged();
    await cache.get(web);
    await cache.get(db);
    expect(runtime.reads()).toBe(4);
  });

  test('a forgotten pod is read afresh if it comes back', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache(runtime.read);
    await cache.get(web);
    cache.forget(web.uid);
    expect(readId(await cache.get(web))).toBe('read-2');
  });
});
