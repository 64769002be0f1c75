import { describe, expect, test } from 'vitest';
import { PodCache, settledStatus } from '../../../../agent/pleg/pod-cache.js';
import type { PodRef, RuntimePodStatus } from '../../../../agent/runtime/runtime.js';

const web: PodRef = { uid: 'uid-web', name: 'web', namespace: 'default' };
const db: PodRef = { uid: 'uid-db', name: 'db', namespace: 'default' };

/** A runtime whose reads are numbered (the number is the status's first sandbox id) and can be held open. */
function countingRuntime(): { reads: () => number; read: (pod: PodRef) => Promise<RuntimePodStatus>; hold: () => () => void; failNext: () => void } {
  let reads = 0;
  let gate: Promise<void> | undefined;
  let fail = false;
  return {
    reads: () => reads,
    failNext: () => void (fail = true),
    read: async (pod) => {
      const n = ++reads;
      if (gate) await gate;
      if (fail) {
        fail = false;
        throw new Error('the engine is away');
      }
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
    const cache = new PodCache({ read: runtime.read });
    expect(readId(await cache.get(web))).toBe('read-1');
    expect(readId(await cache.get(web))).toBe('read-1');
    expect(runtime.reads()).toBe(1);
  });

  test('a pod marked changed is read again, and only that pod', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read });
    await cache.get(web);
    await cache.get(db);
    cache.markChanged(web.uid);
    expect(readId(await cache.get(web))).toBe('read-3');
    expect(readId(await cache.get(db))).toBe('read-2');
  });

  test('refresh reads now and keeps what it read', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read });
    await cache.get(web);
    expect(readId(await cache.refresh(web))).toBe('read-2');
    expect(readId(await cache.get(web))).toBe('read-2');
  });

  test('a read the pod changed during is returned but not kept', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read });
    const release = runtime.hold();
    const reading = cache.get(web);
    cache.markChanged(web.uid);
    release();
    expect(readId(await reading)).toBe('read-1');
    expect(readId(await cache.get(web))).toBe('read-2');
  });

  test('markAllChanged has every pod read again', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read });
    await cache.get(web);
    await cache.get(db);
    cache.markAllChanged();
    await cache.get(web);
    await cache.get(db);
    expect(runtime.reads()).toBe(4);
  });

  test('a forgotten pod is read afresh if it comes back', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read });
    await cache.get(web);
    cache.forget(web.uid);
    expect(readId(await cache.get(web))).toBe('read-2');
  });

  test('a refresh that fails leaves nothing kept: the next get reads again', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read });
    await cache.get(web);
    runtime.failNext();
    await expect(cache.refresh(web)).rejects.toThrow('the engine is away');
    expect(readId(await cache.get(web))).toBe('read-3');
  });

  test('every pod marked while a first read runs: that read is not kept', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read });
    const release = runtime.hold();
    const reading = cache.get(web);
    cache.markAllChanged();
    release();
    await reading;
    expect(readId(await cache.get(web))).toBe('read-2');
  });

  test('a pod forgotten while it is read is not kept from that read', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read });
    const release = runtime.hold();
    const reading = cache.refresh(web);
    cache.forget(web.uid);
    release();
    await reading;
    expect(readId(await cache.get(web))).toBe('read-2');
  });

  test('a read that started after the mark is kept', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read });
    const release = runtime.hold();
    const first = cache.get(web);
    cache.markChanged(web.uid);
    const second = cache.refresh(web);
    release();
    await Promise.all([first, second]);
    expect(readId(await cache.get(web))).toBe('read-2');
    expect(runtime.reads()).toBe(2);
  });

  test('a status the caller will not keep is read again each time', async () => {
    const runtime = countingRuntime();
    const cache = new PodCache({ read: runtime.read, keep: () => false });
    await cache.get(web);
    await cache.get(web);
    expect(runtime.reads()).toBe(2);
  });
});

describe('settledStatus', () => {
  const now = 1_000_000;
  const exited = (exitCode: number, reason: string, finishedAt: number): RuntimePodStatus =>
    ({ pod: web, sandboxes: [], containers: [{ state: 'exited', exitCode, reason, finishedAt }] }) as unknown as RuntimePodStatus;

  test('a container just killed (137) without an OOM flag may still be found OOMKilled: not settled', () => {
    expect(settledStatus(exited(137, 'Error', now - 5_000), now)).toBe(false);
  });

  test('OOMKilled already, another exit code, or long enough ago: settled', () => {
    expect(settledStatus(exited(137, 'OOMKilled', now - 5_000), now)).toBe(true);
    expect(settledStatus(exited(1, 'Error', now - 5_000), now)).toBe(true);
    expect(settledStatus(exited(137, 'Error', now - 120_000), now)).toBe(true);
  });
});
