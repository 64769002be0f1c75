import { pino } from 'pino';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { ContainerStatus, DefaultedPod, PodStatus, Probe } from '../../../../common/api/types.js';
import type { ProbeCounter } from '../../../../agent/prober/probe-worker.js';
import { ProberManager } from '../../../../agent/prober/prober-manager.js';
import type { ProbeResultUpdate } from '../../../../agent/prober/results.js';
import { rfc3339 } from '../../../../common/util/clock.js';
import { ctr, FakeRecorder, FakeRuntime, Image, instance, pod } from '../../fixtures.js';

const T0 = Date.parse('2025-06-01T12:00:00Z');
const exec = (name: string): Probe => ({ exec: { command: [name] } });

/** The manager with a fake runtime whose exec answers per command (exit 0 unless `exits` says otherwise). */
class Harness {
  runtime = new FakeRuntime();
  recorder = new FakeRecorder();
  statuses = new Map<string, PodStatus>();
  terminating = new Set<string>();
  exits = new Map<string, number>();
  updates: ProbeResultUpdate[] = [];
  counter: ProbeCounter = { inc: () => {}, remove: () => {} };
  /** 0: every worker's first run at once (the manager has just started); 0.99: 99 % of a period later. */
  random = 0;
  manager: ProberManager;

  constructor() {
    this.runtime.execSyncAnswer = ({ command }) => ({ exitCode: this.exits.get(command[0]!) ?? 0, output: '' });
    this.manager = new ProberManager({
      runtime: this.runtime,
      recorder: this.recorder,
      podStatus: (uid) => this.statuses.get(uid),
      isTerminating: (uid) => this.terminating.has(uid),
      counter: this.counter,
      clock: { now: () => Date.now() },
      logger: pino({ level: 'silent' }),
      random: () => this.random,
    });
    this.manager.onUpdate((u) => this.updates.push(u));
  }

  /** The commands run so far, sorted. */
  commands(): string[] {
    return this.runtime.execCalls.map((c) => c.command[0]!).sort();
  }

  /** The result updates so far, as "<type> <containerId> <result>", sorted. */
  updateLines(): string[] {
    return this.updates.map((u) => `${u.probeType} ${u.containerId} ${u.result}`).sort();
  }
}

let h: Harness;

function setup(): Harness {
  vi.useFakeTimers({ now: T0 });
  h = new Harness();
  return h;
}

afterEach(() => {
  h?.manager.stop();
  vi.useRealTimers();
});

function running(name: string, started: boolean): ContainerStatus {
  return {
    name,
    image: Image,
    imageID: '',
    ready: false,
    restartCount: 0,
    started,
    containerID: `docker://${name}-1`,
    state: { running: { startedAt: rfc3339(T0 - 3_600_000) } },
  };
}

/** `main` with liveness and readiness, `plain` with no probe, a regular init container and a sidecar with startup and readiness. */
function fullPod(): DefaultedPod {
  return pod({
    initContainers: [
      ctr('setup', { readinessProbe: exec('readiness-setup') }),
      ctr('side', { restartPolicy: 'Always', startupProbe: exec('startup-side'), readinessProbe: exec('readiness-side') }),
    ],
    containers: [ctr('main', { livenessProbe: exec('liveness-main'), readinessProbe: exec('readiness-main') }), ctr('plain')],
  });
}

function fullStatus(started = true): PodStatus {
  return {
    phase: 'Running',
    podIP: '127.0.0.1',
    initContainerStatuses: [
      { ...running('setup', false), state: { terminated: { exitCode: 0 } } },
      running('side', started),
    ],
    containerStatuses: [running('main', started), running('plain', started)],
  };
}

/** `main` with the given probes only. */
function mainWith(probes: { startupProbe?: Probe; livenessProbe?: Probe; readinessProbe?: Probe }): DefaultedPod {
  return pod({ containers: [ctr('main', probes)] });
}

const mainStatus = (started: boolean): PodStatus => ({ phase: 'Running', podIP: '127.0.0.1', containerStatuses: [running('main', started)] });

describe('ProberManager.addPod', () => {
  test('starts a worker per probe of every app container and sidecar, none for regular init containers', async () => {
    setup();
    const p = fullPod();
    h.statuses.set('uid-1', fullStatus());
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    // Everything has started: liveness and readiness run, startup only sets its initial value.
    expect(h.commands()).toEqual(['liveness-main', 'readiness-main', 'readiness-side']);
    expect(h.updateLines()).toEqual([
      'liveness main-1 Success',
      'readiness main-1 Failure',
      'readiness main-1 Success',
      'readiness side-1 Failure',
      'readiness side-1 Success',
      'startup side-1 Unknown',
    ]);
  });

  test('a second addPod of the same pod starts no second set of workers', async () => {
    setup();
    h.statuses.set('uid-1', fullStatus());
    h.manager.addPod(fullPod());
    h.manager.addPod(fullPod());
    await vi.advanceTimersByTimeAsync(0);
    expect(h.commands()).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.commands()).toHaveLength(6);
  });

  test('the workers keep probing every periodSeconds', async () => {
    setup();
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(mainWith({ livenessProbe: { ...exec('liveness-main'), periodSeconds: 3 } }));
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(h.commands()).toEqual(['liveness-main', 'liveness-main', 'liveness-main', 'liveness-main']);
  });
});

describe('ProberManager.containerHealth', () => {
  test('a container that is not running is neither started nor ready', () => {
    setup();
    const p = mainWith({});
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1', state: 'exited' }))).toEqual({ started: false, ready: false });
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1', state: 'created' }))).toEqual({ started: false, ready: false });
  });

  test('without probes, a running container is started and ready', () => {
    setup();
    const p = mainWith({});
    h.manager.addPod(p);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: true });
  });

  test('a startup probe with no result yet: not started, not ready', () => {
    setup();
    const p = mainWith({ startupProbe: exec('startup-main') });
    h.manager.addPod(p);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: false, ready: false });
  });

  test('the startup result decides started: Unknown (within the initial delay) is not started, Success is', async () => {
    setup();
    const p = mainWith({ startupProbe: { ...exec('startup-main'), initialDelaySeconds: 5 } });
    h.statuses.set('uid-1', { ...mainStatus(false), containerStatuses: [{ ...running('main', false), state: { running: { startedAt: rfc3339(T0) } } }] });
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.updateLines()).toEqual(['startup main-1 Unknown']);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: false, ready: false });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.updateLines()).toEqual(['startup main-1 Success', 'startup main-1 Unknown']);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: true });
  });

  test('a failed startup probe: not started', async () => {
    setup();
    h.exits.set('startup-main', 1);
    const p = mainWith({ startupProbe: { ...exec('startup-main'), failureThreshold: 1 } });
    h.statuses.set('uid-1', mainStatus(false));
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: false, ready: false });
  });

  test('a container that has not started is never ready, even without a readiness probe', () => {
    setup();
    const p = mainWith({ startupProbe: exec('startup-main') });
    h.manager.addPod(p);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' })).ready).toBe(false);
  });

  test('readiness Success: ready', async () => {
    setup();
    const p = mainWith({ readinessProbe: exec('readiness-main') });
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: true });
  });

  test('a readiness worker with no result yet: not ready, and a probe is triggered at once', async () => {
    setup();
    h.random = 0.99;
    const p = mainWith({ readinessProbe: exec('readiness-main') });
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(p);
    // The worker's first run is not due for 9.9 s: it is triggered by the question.
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: false });
    expect(h.commands()).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.commands()).toEqual(['readiness-main']);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: true });
  });

  test('a failed readiness probe: not ready, and probed again at once', async () => {
    setup();
    h.exits.set('readiness-main', 1);
    const p = mainWith({ readinessProbe: { ...exec('readiness-main'), failureThreshold: 1 } });
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.commands()).toEqual(['readiness-main']);
    h.exits.set('readiness-main', 0);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.commands()).toEqual(['readiness-main', 'readiness-main']);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: true });
  });

  test('readiness follows a startup success at once, not a readiness period later', async () => {
    setup();
    h.exits.set('startup-main', 1);
    const p = mainWith({
      startupProbe: { ...exec('startup-main'), periodSeconds: 5, failureThreshold: 100 },
      readinessProbe: { ...exec('readiness-main'), periodSeconds: 30 },
    });
    h.statuses.set('uid-1', mainStatus(false));
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.commands()).toEqual(['startup-main']);
    h.exits.set('startup-main', 0);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(h.updates.at(-1)).toEqual({ probeType: 'startup', podUID: 'uid-1', containerId: 'main-1', result: 'Success' });
    // The agent builds the next status: started now, readiness still at its initial Failure ...
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: false });
    h.statuses.set('uid-1', mainStatus(true));
    // ... and the readiness probe runs right after, 25 s before its next tick.
    await vi.advanceTimersByTimeAsync(0);
    expect(h.commands()).toEqual(['readiness-main', 'startup-main', 'startup-main']);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: true });
  });

  test('without a readiness probe, a started container is ready', async () => {
    setup();
    const p = mainWith({ livenessProbe: exec('liveness-main') });
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: true });
  });

  test('a sidecar is judged by its own workers', async () => {
    setup();
    h.exits.set('readiness-side', 1);
    const p = pod({ initContainers: [ctr('side', { restartPolicy: 'Always', readinessProbe: { ...exec('readiness-side'), failureThreshold: 1 } })], containers: [ctr('main')] });
    h.statuses.set('uid-1', { phase: 'Running', initContainerStatuses: [running('side', true)], containerStatuses: [running('main', true)] });
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.commands()).toEqual(['readiness-side']);
    expect(h.manager.containerHealth(instance(p, 'side', { id: 'side-1' }))).toEqual({ started: true, ready: false });
    expect(h.manager.containerHealth(instance(p, 'main', { id: 'main-1' }))).toEqual({ started: true, ready: true });
  });
});

describe('ProberManager.failedProbe', () => {
  test('nothing failed: undefined', async () => {
    setup();
    h.statuses.set('uid-1', fullStatus());
    h.manager.addPod(fullPod());
    await vi.advanceTimersByTimeAsync(0);
    expect(h.manager.failedProbe('main-1')).toBeUndefined();
  });

  test('a stored liveness Failure: liveness', async () => {
    setup();
    h.exits.set('liveness-main', 1);
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(mainWith({ livenessProbe: { ...exec('liveness-main'), failureThreshold: 2 } }));
    await vi.advanceTimersByTimeAsync(0);
    expect(h.manager.failedProbe('main-1')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.manager.failedProbe('main-1')).toBe('liveness');
  });

  test('a stored startup Failure: startup', async () => {
    setup();
    h.exits.set('startup-main', 1);
    h.statuses.set('uid-1', mainStatus(false));
    h.manager.addPod(mainWith({ startupProbe: { ...exec('startup-main'), failureThreshold: 1 } }));
    await vi.advanceTimersByTimeAsync(0);
    expect(h.manager.failedProbe('main-1')).toBe('startup');
  });

  test('a readiness Failure is not a reason to kill', async () => {
    setup();
    h.exits.set('readiness-main', 1);
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(mainWith({ readinessProbe: { ...exec('readiness-main'), failureThreshold: 1 } }));
    await vi.advanceTimersByTimeAsync(0);
    expect(h.manager.failedProbe('main-1')).toBeUndefined();
  });
});

describe('ProberManager: stopping workers', () => {
  test('stopLivenessAndStartup stops those workers (their results forgotten) and leaves readiness running', async () => {
    setup();
    h.exits.set('liveness-main', 1);
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(mainWith({ livenessProbe: { ...exec('liveness-main'), failureThreshold: 1 }, readinessProbe: exec('readiness-main') }));
    await vi.advanceTimersByTimeAsync(0);
    expect(h.manager.failedProbe('main-1')).toBe('liveness');
    h.manager.stopLivenessAndStartup('uid-1');
    expect(h.manager.failedProbe('main-1')).toBeUndefined();
    h.runtime.execCalls = [];
    await vi.advanceTimersByTimeAsync(20_000);
    expect(h.commands()).toEqual(['readiness-main', 'readiness-main']);
    expect(h.manager.containerHealth(instance(pod(), 'main', { id: 'main-1' }))).toEqual({ started: true, ready: true });
  });

  test('a worker stopped by stopLivenessAndStartup can be started again by addPod', async () => {
    setup();
    const p = mainWith({ livenessProbe: exec('liveness-main') });
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    h.manager.stopLivenessAndStartup('uid-1');
    h.manager.addPod(p);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.commands()).toEqual(['liveness-main', 'liveness-main']);
  });

  test("removePod stops all of the pod's workers and forgets their results; other pods go on", async () => {
    setup();
    const other = pod({ containers: [ctr('main', { readinessProbe: exec('readiness-other') })] }, { name: 'other', uid: 'uid-2' });
    h.statuses.set('uid-1', fullStatus());
    h.statuses.set('uid-2', { ...mainStatus(true), containerStatuses: [{ ...running('main', true), containerID: 'docker://other-1' }] });
    h.manager.addPod(fullPod());
    h.manager.addPod(other);
    await vi.advanceTimersByTimeAsync(0);
    h.manager.removePod('uid-1');
    h.runtime.execCalls = [];
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.commands()).toEqual(['readiness-other']);
    // The readiness worker is gone: readiness no longer holds main back, and nothing remembers main's results.
    expect(h.manager.failedProbe('main-1')).toBeUndefined();
    expect(h.manager.containerHealth(instance(fullPod(), 'side', { id: 'side-1' }))).toEqual({ started: true, ready: true });
  });

  test('stop() stops every worker', async () => {
    setup();
    h.statuses.set('uid-1', fullStatus());
    h.manager.addPod(fullPod());
    h.manager.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.commands()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a terminating pod: liveness turns Success and stops; readiness goes on', async () => {
    setup();
    h.exits.set('readiness-main', 1);
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(mainWith({ livenessProbe: exec('liveness-main'), readinessProbe: { ...exec('readiness-main'), failureThreshold: 1 } }));
    h.terminating.add('uid-1');
    await vi.advanceTimersByTimeAsync(20_000);
    expect(h.commands()).toEqual(['readiness-main', 'readiness-main', 'readiness-main']);
    expect(h.manager.containerHealth(instance(pod(), 'main', { id: 'main-1' }))).toEqual({ started: true, ready: false });
  });
});

describe('ProberManager.onUpdate', () => {
  test('listeners get changes only, not results set again to the same value', async () => {
    setup();
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(mainWith({ readinessProbe: exec('readiness-main') }));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.commands()).toHaveLength(4);
    expect(h.updates).toEqual([
      { probeType: 'readiness', podUID: 'uid-1', containerId: 'main-1', result: 'Failure' },
      { probeType: 'readiness', podUID: 'uid-1', containerId: 'main-1', result: 'Success' },
    ]);
  });

  test('every listener is told', async () => {
    setup();
    const second: ProbeResultUpdate[] = [];
    h.manager.onUpdate((u) => second.push(u));
    h.statuses.set('uid-1', mainStatus(true));
    h.manager.addPod(mainWith({ readinessProbe: exec('readiness-main') }));
    await vi.advanceTimersByTimeAsync(0);
    expect(second).toEqual(h.updates);
    expect(second).toHaveLength(2);
  });
});
