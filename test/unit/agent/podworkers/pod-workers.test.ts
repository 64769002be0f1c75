import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { DefaultedPod } from '../../../../common/api/types.js';
import { ConfigSourceAnnotation } from '../../../../common/api/well-known.js';
import { PodWorkers, type PodSyncHandlers, type TerminationRequest } from '../../../../agent/podworkers/pod-workers.js';
import { ctr, pod } from '../../fixtures.js';

/** A promise the test settles by hand. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Fake sync handlers that record every call and can be held at a gate. */
class FakeHandlers implements PodSyncHandlers {
  calls: string[] = [];
  terminations: TerminationRequest[] = [];
  /** uid -> gate the next calls for that uid wait on. */
  gates = new Map<string, Promise<void>>();
  /** uid -> errors thrown by the next syncPod calls, in order. */
  failures = new Map<string, Error[]>();
  retryAfterMs: number | undefined;
  active = new Map<string, number>();
  maxActive = new Map<string, number>();
  maxActiveOverall = 0;

  async #enter(uid: string, call: string): Promise<void> {
    this.calls.push(call);
    const now = (this.active.get(uid) ?? 0) + 1;
    this.active.set(uid, now);
    this.maxActive.set(uid, Math.max(this.maxActive.get(uid) ?? 0, now));
    this.maxActiveOverall = Math.max(this.maxActiveOverall, [...this.active.values()].reduce((a, b) => a + b, 0));
    try {
      await this.gates.get(uid);
    } finally {
      this.active.set(uid, (this.active.get(uid) ?? 1) - 1);
    }
  }

  async syncPod(p: DefaultedPod, _signal?: AbortSignal): Promise<{ retryAfterMs?: number }> {
    await this.#enter(p.metadata.uid, `sync ${p.metadata.uid} ${p.spec.containers[0]!.image}`);
    const failure = this.failures.get(p.metadata.uid)?.shift();
    if (failure) throw failure;
    return this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {};
  }

  async syncTerminatingPod(request: TerminationRequest, _signal?: AbortSignal): Promise<void> {
    this.terminations.push(request);
    await this.#enter(request.uid, `terminating ${request.uid}`);
  }

  async syncTerminatedPod(uid: string): Promise<void> {
    await this.#enter(uid, `terminated ${uid}`);
  }
}

const HourMs = 3_600_000;
let handlers: FakeHandlers;
let workers: PodWorkers;

function newWorkers(): void {
  handlers = new FakeHandlers();
  workers = new PodWorkers({ handlers, resyncIntervalMs: HourMs, logger: pino({ level: 'silent' }) });
}

beforeEach(newWorkers);

afterEach(async () => {
  await workers.stop();
  vi.useRealTimers();
});

const version = (uid: string, image: string, meta: Parameters<typeof pod>[1] = {}): DefaultedPod =>
  pod({ containers: [ctr('main', { image })] }, { uid, ...meta });
const staticPod = (uid: string, image = 'img:1'): DefaultedPod => version(uid, image, { name: 'web-node-1', annotations: { [ConfigSourceAnnotation]: 'file' } });

describe('PodWorkers: syncing', () => {
  test('an update syncs the pod; whenIdle resolves once the sync is done', async () => {
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    expect(workers.state('a')).toBe('syncing');
    await workers.whenIdle('a');
    expect(handlers.calls).toEqual(['sync a img:1']);
  });

  test('whenIdle for a pod without a worker resolves at once', async () => {
    await expect(workers.whenIdle('nobody')).resolves.toBeUndefined();
    expect(workers.has('nobody')).toBe(false);
  });

  test("a pod's syncs never overlap; updates during a sync coalesce into one more sync with the newest spec", async () => {
    const gate = deferred();
    handlers.gates.set('a', gate.promise);
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    workers.update({ type: 'sync', pod: version('a', 'img:2') });
    workers.update({ type: 'sync', pod: version('a', 'img:3') });
    workers.update({ type: 'sync', pod: version('a', 'img:4') });
    expect(handlers.calls).toEqual(['sync a img:1']);
    gate.resolve();
    await workers.whenIdle('a');
    expect(handlers.calls).toEqual(['sync a img:1', 'sync a img:4']);
    expect(handlers.maxActive.get('a')).toBe(1);
  });

  test('different pods sync in parallel', async () => {
    const gate = deferred();
    handlers.gates.set('a', gate.promise);
    handlers.gates.set('b', gate.promise);
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    workers.update({ type: 'sync', pod: version('b', 'img:1') });
    expect(handlers.calls).toEqual(['sync a img:1', 'sync b img:1']);
    gate.resolve();
    await Promise.all([workers.whenIdle('a'), workers.whenIdle('b')]);
    expect(handlers.maxActiveOverall).toBe(2);
  });

  test('a sync that throws is retried after 1 s, then 2 s', async () => {
    vi.useFakeTimers();
    newWorkers();
    handlers.failures.set('a', [new Error('boom'), new Error('boom again')]);
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    await workers.whenIdle('a');
    expect(handlers.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(handlers.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(handlers.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(handlers.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(handlers.calls).toEqual(['sync a img:1', 'sync a img:1', 'sync a img:1']);
    expect(workers.state('a')).toBe('syncing');
  });

  test('a sync that asks for a retry is run again after that delay', async () => {
    vi.useFakeTimers();
    newWorkers();
    handlers.retryAfterMs = 5_000;
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    await workers.whenIdle('a');
    await vi.advanceTimersByTimeAsync(4_999);
    expect(handlers.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(handlers.calls).toHaveLength(2);
  });

  test('an idle pod is resynced every resync interval', async () => {
    vi.useFakeTimers();
    newWorkers();
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    await workers.whenIdle('a');
    await vi.advanceTimersByTimeAsync(HourMs);
    expect(handlers.calls).toEqual(['sync a img:1', 'sync a img:1']);
  });

  test('stop aborts the sync under way and resolves only once it has ended', async () => {
    let signal: AbortSignal | undefined;
    const release = deferred();
    handlers.syncPod = async (_pod: DefaultedPod, syncSignal?: AbortSignal) => {
      signal = syncSignal;
      await release.promise;
      return {};
    };
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    let stopped = false;
    const stopping = workers.stop().then(() => (stopped = true));
    expect(signal?.aborted).toBe(true);
    await Promise.resolve();
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(stopped).toBe(true);
  });

  test('stop aborts a termination under way and resolves once it has given up; nothing follows it', async () => {
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    await workers.whenIdle('a');
    let signal: AbortSignal | undefined;
    handlers.syncTerminatingPod = async (_request: TerminationRequest, terminationSignal: AbortSignal) => {
      signal = terminationSignal;
      await new Promise((resolve) => terminationSignal.addEventListener('abort', resolve, { once: true }));
      throw terminationSignal.reason;
    };
    workers.update({ type: 'kill', uid: 'a' });
    expect(signal?.aborted).toBe(false);
    await workers.stop();
    expect(signal?.aborted).toBe(true);
    expect(workers.state('a')).toBe('terminating');
    expect(handlers.calls).toEqual(['sync a img:1']);
  });

  test('after stop, updates are ignored', async () => {
    await workers.stop();
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    await workers.whenIdle('a');
    expect(handlers.calls).toEqual([]);
  });
});

describe('PodWorkers: termination', () => {
  test('kill -> terminating -> terminated -> removed', async () => {
    const p = version('a', 'img:1');
    workers.update({ type: 'sync', pod: p });
    await workers.whenIdle('a');
    const terminating = deferred();
    handlers.gates.set('a', terminating.promise);
    const enteredTerminated = deferred();
    const releaseTerminated = deferred();
    handlers.syncTerminatedPod = async (uid) => {
      handlers.calls.push(`terminated ${uid}`);
      enteredTerminated.resolve();
      await releaseTerminated.promise;
    };
    workers.update({ type: 'kill', uid: 'a', gracePeriodSeconds: 5 });
    expect(workers.state('a')).toBe('terminating');
    terminating.resolve();
    await enteredTerminated.promise;
    expect(workers.state('a')).toBe('terminated');
    releaseTerminated.resolve();
    await workers.whenIdle('a');
    expect(workers.has('a')).toBe(false);
    expect(handlers.calls).toEqual(['sync a img:1', 'terminating a', 'terminated a']);
    expect(handlers.terminations).toHaveLength(1);
    expect(handlers.terminations[0]).toMatchObject({ uid: 'a', gracePeriodSeconds: 5, pod: p });
  });

  test('a kill during a sync waits for the sync, then terminates; no further sync runs', async () => {
    const gate = deferred();
    handlers.gates.set('a', gate.promise);
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    workers.update({ type: 'kill', uid: 'a' });
    workers.update({ type: 'sync', pod: version('a', 'img:2') });
    expect(handlers.maxActive.get('a')).toBe(1);
    handlers.gates.delete('a');
    gate.resolve();
    await workers.whenIdle('a');
    expect(handlers.calls).toEqual(['sync a img:1', 'terminating a', 'terminated a']);
    expect(workers.has('a')).toBe(false);
  });

  test('a pod created again while it terminates (same UID) starts afresh once the termination is done', async () => {
    workers.update({ type: 'create', pod: version('a', 'img:1') });
    await workers.whenIdle('a');
    const gate = deferred();
    handlers.gates.set('a', gate.promise);
    workers.update({ type: 'kill', uid: 'a' });
    workers.update({ type: 'create', pod: version('a', 'img:1') });
    handlers.gates.delete('a');
    gate.resolve();
    await workers.whenIdle('a'); // the old life is gone; its removal started the new one
    await workers.whenIdle('a'); // the new life has synced
    expect(handlers.calls).toEqual(['sync a img:1', 'terminating a', 'terminated a', 'sync a img:1']);
    expect(workers.state('a')).toBe('syncing');
  });

  test('a kill after the re-create cancels the restart', async () => {
    workers.update({ type: 'create', pod: version('a', 'img:1') });
    await workers.whenIdle('a');
    const gate = deferred();
    handlers.gates.set('a', gate.promise);
    workers.update({ type: 'kill', uid: 'a' });
    workers.update({ type: 'create', pod: version('a', 'img:1') });
    workers.update({ type: 'kill', uid: 'a' });
    handlers.gates.delete('a');
    gate.resolve();
    await workers.whenIdle('a');
    expect(handlers.calls).toEqual(['sync a img:1', 'terminating a', 'terminated a']);
    expect(workers.has('a')).toBe(false);
  });

  test('a kill for a pod known only from the runtime terminates it with its listing', async () => {
    const runningPod = { pod: { uid: 'orphan', name: 'old', namespace: 'default' }, sandboxes: [], containers: [] };
    workers.update({ type: 'kill', uid: 'orphan', runningPod });
    await workers.whenIdle('orphan');
    expect(handlers.calls).toEqual(['terminating orphan', 'terminated orphan']);
    expect(handlers.terminations[0]).toMatchObject({ uid: 'orphan', runningPod });
  });

  test('a second kill while terminating does not start a second termination', async () => {
    const gate = deferred();
    workers.update({ type: 'sync', pod: version('a', 'img:1') });
    await workers.whenIdle('a');
    handlers.gates.set('a', gate.promise);
    workers.update({ type: 'kill', uid: 'a' });
    workers.update({ type: 'kill', uid: 'a', gracePeriodSeconds: 1 });
    handlers.gates.delete('a');
    gate.resolve();
    await workers.whenIdle('a');
    expect(handlers.calls.filter((c) => c.startsWith('terminating'))).toHaveLength(1);
    expect(handlers.terminations[0]!.gracePeriodSeconds).toBeUndefined();
  });

  test('a termination that throws is retried', async () => {
    vi.useFakeTimers();
    newWorkers();
    let fail = true;
    handlers.syncTerminatingPod = async (request) => {
      handlers.calls.push(`terminating ${request.uid}`);
      if (fail) {
        fail = false;
        throw new Error('docker said no');
      }
    };
    workers.update({ type: 'kill', uid: 'a', runningPod: { pod: { uid: 'a', name: 'x', namespace: 'default' }, sandboxes: [], containers: [] } });
    await workers.whenIdle('a');
    expect(workers.state('a')).toBe('terminating');
    await vi.advanceTimersByTimeAsync(1_000);
    await workers.whenIdle('a');
    expect(handlers.calls).toEqual(['terminating a', 'terminating a', 'terminated a']);
    expect(workers.has('a')).toBe(false);
  });
});

describe('PodWorkers: static pods with one full name', () => {
  test('a static pod waits while another one with its full name is still there, then starts', async () => {
    workers.update({ type: 'sync', pod: staticPod('old', 'img:1') });
    await workers.whenIdle('old');
    workers.update({ type: 'kill', uid: 'old' });
    workers.update({ type: 'sync', pod: staticPod('new', 'img:2') });
    expect(workers.state('new')).toBe('waiting');
    await workers.whenIdle('old');
    expect(workers.has('old')).toBe(false);
    await workers.whenIdle('new');
    expect(workers.state('new')).toBe('syncing');
    expect(handlers.calls).toEqual(['sync old img:1', 'terminating old', 'terminated old', 'sync new img:2']);
  });

  test('a waiting static pod does not sync on updates', async () => {
    const gate = deferred();
    workers.update({ type: 'sync', pod: staticPod('old') });
    await workers.whenIdle('old');
    handlers.gates.set('old', gate.promise);
    workers.update({ type: 'kill', uid: 'old' });
    workers.update({ type: 'sync', pod: staticPod('new', 'img:2') });
    workers.update({ type: 'sync', pod: staticPod('new', 'img:3') });
    await workers.whenIdle('new');
    expect(handlers.calls.filter((c) => c.startsWith('sync new'))).toEqual([]);
    handlers.gates.delete('old');
    gate.resolve();
    await workers.whenIdle('old');
    await workers.whenIdle('new');
    expect(handlers.calls.filter((c) => c.startsWith('sync new'))).toEqual(['sync new img:3']);
  });

  test('a pod that is not static does not wait for a pod with its full name', async () => {
    workers.update({ type: 'sync', pod: version('old', 'img:1', { name: 'web-node-1' }) });
    workers.update({ type: 'sync', pod: version('new', 'img:2', { name: 'web-node-1' }) });
    expect(workers.state('new')).toBe('syncing');
    await workers.whenIdle('new');
    expect(handlers.calls).toContain('sync new img:2');
  });

  test('static pods with different full names do not wait for each other', async () => {
    workers.update({ type: 'sync', pod: staticPod('a') });
    workers.update({ type: 'sync', pod: version('b', 'img:1', { name: 'db-node-1', annotations: { [ConfigSourceAnnotation]: 'file' } }) });
    expect(workers.state('b')).toBe('syncing');
  });

  test('a waiting static pod that is killed never syncs', async () => {
    workers.update({ type: 'sync', pod: staticPod('old') });
    await workers.whenIdle('old');
    workers.update({ type: 'sync', pod: staticPod('new') });
    expect(workers.state('new')).toBe('waiting');
    workers.update({ type: 'kill', uid: 'new' });
    await workers.whenIdle('new');
    expect(handlers.calls).toEqual(['sync old img:1', 'terminating new', 'terminated new']);
    expect(workers.state('old')).toBe('syncing');
  });
});
