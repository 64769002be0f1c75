import { afterEach, describe, expect, test, vi } from 'vitest';
import type { ContainerStatus, DefaultedPod, PodSpec, PodStatus, Probe } from '../../../../common/api/types.js';
import type { ProbeTarget } from '../../../../agent/prober/prober.js';
import { ProbeWorker, type ProbeCounter, type ProbeMetricLabels, type ProbeMetricResult, type ProbeWorkerContext } from '../../../../agent/prober/probe-worker.js';
import { ProbeResults, type ProbeResult, type ProbeResultUpdate, type ProbeType } from '../../../../agent/prober/results.js';
import { rfc3339 } from '../../../../common/util/clock.js';
import { ctr, deferred, Image, pod } from '../../fixtures.js';

type CounterLabels = ProbeMetricLabels & { result: ProbeMetricResult };

class FakeCounter implements ProbeCounter {
  incs: CounterLabels[] = [];
  removed: CounterLabels[] = [];

  inc(labels: CounterLabels): void {
    this.incs.push(labels);
  }

  remove(labels: CounterLabels): void {
    this.removed.push(labels);
  }
}

/** What the next probe does: a result, a result later, or an error. */
type Scripted = ProbeResult | Promise<ProbeResult> | Error;

const T0 = Date.parse('2025-06-01T12:00:00Z');

/** A fake ProbeWorkerContext: the pod status, the clock and the probe outcomes are the test's. */
class Harness {
  now = T0 + 3_600_000;
  status: PodStatus | undefined;
  terminating = false;
  script: Scripted[] = [];
  probes: Array<{ probeType: ProbeType; target: ProbeTarget }> = [];
  updates: ProbeResultUpdate[] = [];
  counter = new FakeCounter();
  stopped: ProbeWorker[] = [];
  random = 0;
  managerStartedAt = 0;
  readonly results: Record<ProbeType, ProbeResults> = {
    liveness: new ProbeResults('liveness', (u) => this.updates.push(u)),
    readiness: new ProbeResults('readiness', (u) => this.updates.push(u)),
    startup: new ProbeResults('startup', (u) => this.updates.push(u)),
  };
  /** Thrown by podStatus() while set. */
  statusError: Error | undefined;
  readonly ctx: ProbeWorkerContext;

  constructor() {
    const self = this;
    this.ctx = {
      podStatus: () => {
        if (this.statusError) throw this.statusError;
        return this.status;
      },
      probe: async (probeType, target) => {
        this.probes.push({ probeType, target });
        const next = this.script.shift() ?? 'Success';
        if (next instanceof Error) throw next;
        return next;
      },
      isTerminating: () => this.terminating,
      results: this.results,
      counter: this.counter,
      clock: { now: () => this.now },
      get startedAt() {
        return self.managerStartedAt;
      },
      random: () => this.random,
      onStopped: (worker) => this.stopped.push(worker),
    };
  }

  result(probeType: ProbeType, containerId = 'c1'): ProbeResult | undefined {
    return this.results[probeType].get(containerId);
  }
}

let harness: Harness;
const workers: ProbeWorker[] = [];

function setup(): Harness {
  harness = new Harness();
  return harness;
}

afterEach(() => {
  for (const w of workers.splice(0)) w.stop();
  vi.useRealTimers();
});

/** The pod `web` whose container `main` has a `probeType` probe (exec, defaulted) with `probe`. */
function probedPod(probeType: ProbeType, probe: Partial<Probe> = {}, spec: Partial<PodSpec> = {}): DefaultedPod {
  const field = `${probeType}Probe` as const;
  return pod({ containers: [ctr('main', { [field]: { exec: { command: ['check'] }, ...probe } })], ...spec });
}

function newWorker(probeType: ProbeType, p: DefaultedPod = probedPod(probeType)): ProbeWorker {
  const worker = new ProbeWorker(harness.ctx, probeType, p, p.spec.containers[0]!);
  workers.push(worker);
  return worker;
}

/** A status of `main`: running since `startedAt` (an hour before the harness's now), started. */
function running(id = 'c1', extra: { startedAt?: number; started?: boolean } = {}): ContainerStatus {
  return {
    name: 'main',
    image: Image,
    imageID: '',
    ready: false,
    restartCount: 0,
    started: extra.started ?? true,
    containerID: `docker://${id}`,
    state: { running: { startedAt: rfc3339(extra.startedAt ?? T0) } },
  };
}

function terminated(id = 'c1', exitCode = 1): ContainerStatus {
  return { ...running(id), started: false, state: { terminated: { exitCode, containerID: `docker://${id}` } } };
}

function waiting(id = 'c1'): ContainerStatus {
  return { ...running(id), started: false, state: { waiting: { reason: 'CrashLoopBackOff' } } };
}

function podStatus(main: ContainerStatus | undefined, phase: PodStatus['phase'] = 'Running'): PodStatus {
  return { phase, podIP: '10.244.0.5', containerStatuses: main ? [main] : [] };
}

const labels = (probeType: string, result: ProbeMetricResult): CounterLabels => ({
  probe_type: probeType,
  container: 'main',
  pod: 'web',
  namespace: 'default',
  pod_uid: 'uid-1',
  result,
});

describe('ProbeWorker.doProbe: waiting for something to probe', () => {
  test('no pod status yet: keep going, nothing probed or stored', async () => {
    setup();
    const worker = newWorker('readiness');
    await expect(worker.doProbe()).resolves.toBe(true);
    expect(harness.probes).toEqual([]);
    expect(harness.updates).toEqual([]);
  });

  test('the container has no status yet: keep going, nothing probed or stored', async () => {
    setup();
    harness.status = podStatus(undefined, 'Pending');
    await expect(newWorker('readiness').doProbe()).resolves.toBe(true);
    expect(harness.probes).toEqual([]);
    expect(harness.updates).toEqual([]);
  });

  test('the container status has no containerID yet: keep going, nothing probed or stored', async () => {
    setup();
    harness.status = podStatus({ name: 'main', image: Image, imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }, 'Pending');
    await expect(newWorker('readiness').doProbe()).resolves.toBe(true);
    expect(harness.probes).toEqual([]);
    expect(harness.updates).toEqual([]);
  });

  test.each(['Succeeded', 'Failed'] as const)('pod phase %s: stop', async (phase) => {
    setup();
    harness.status = podStatus(running(), phase);
    await expect(newWorker('liveness').doProbe()).resolves.toBe(false);
    expect(harness.probes).toEqual([]);
  });
});

describe('ProbeWorker.doProbe: initial results', () => {
  test.each([
    ['readiness', 'Failure'],
    ['liveness', 'Success'],
    ['startup', 'Unknown'],
  ] as const)('%s starts at %s when a container ID is first seen', async (probeType, initial) => {
    setup();
    // Within the initial delay: the initial value is all there is.
    harness.status = podStatus(running('c1', { startedAt: harness.now, started: probeType !== 'startup' }));
    await expect(newWorker(probeType, probedPod(probeType, { initialDelaySeconds: 60 })).doProbe()).resolves.toBe(true);
    expect(harness.probes).toEqual([]);
    expect(harness.updates).toEqual([{ probeType, podUID: 'uid-1', containerId: 'c1', result: initial }]);
  });

  test('a new container ID starts over from the initial value and the old ID is forgotten', async () => {
    setup();
    harness.status = podStatus(running('c1'));
    const worker = newWorker('readiness');
    await worker.doProbe();
    expect(harness.result('readiness', 'c1')).toBe('Success');
    harness.status = podStatus(running('c2'));
    await worker.doProbe();
    expect(harness.result('readiness', 'c1')).toBeUndefined();
    // c2 was probed at once (no initial delay): Success again, after the initial Failure.
    expect(harness.updates.filter((u) => u.containerId === 'c2').map((u) => u.result)).toEqual(['Failure', 'Success']);
  });
});

describe('ProbeWorker.doProbe: a container that is not running', () => {
  test('a waiting container is a Failure and the worker keeps going', async () => {
    setup();
    harness.status = podStatus(waiting());
    await expect(newWorker('liveness').doProbe()).resolves.toBe(true);
    expect(harness.result('liveness')).toBe('Failure');
    expect(harness.probes).toEqual([]);
  });

  test('a terminated container under restartPolicy Never: Failure, and stop', async () => {
    setup();
    harness.status = podStatus(terminated());
    await expect(newWorker('readiness', probedPod('readiness', {}, { restartPolicy: 'Never' })).doProbe()).resolves.toBe(false);
    expect(harness.result('readiness')).toBe('Failure');
  });

  test.each(['OnFailure', 'Always'] as const)('a terminated container under %s: Failure, and keep going (it will restart)', async (restartPolicy) => {
    setup();
    harness.status = podStatus(terminated());
    await expect(newWorker('readiness', probedPod('readiness', {}, { restartPolicy })).doProbe()).resolves.toBe(true);
    expect(harness.result('readiness')).toBe('Failure');
  });
});

describe('ProbeWorker.doProbe: a terminating pod', () => {
  test.each(['liveness', 'startup'] as const)('%s is set to Success and stops, without probing', async (probeType) => {
    setup();
    harness.status = podStatus(running('c1', { started: probeType === 'liveness' }));
    harness.terminating = true;
    await expect(newWorker(probeType).doProbe()).resolves.toBe(false);
    expect(harness.result(probeType)).toBe('Success');
    expect(harness.probes).toEqual([]);
  });

  test('readiness goes on probing (the pod turns NotReady while it terminates)', async () => {
    setup();
    harness.status = podStatus(running());
    harness.terminating = true;
    harness.script = ['Failure'];
    const worker = newWorker('readiness', probedPod('readiness', { failureThreshold: 1 }));
    await expect(worker.doProbe()).resolves.toBe(true);
    expect(harness.probes.map((p) => p.probeType)).toEqual(['readiness']);
    expect(harness.result('readiness')).toBe('Failure');
  });
});

describe('ProbeWorker.doProbe: when probes run', () => {
  test('not before initialDelaySeconds have passed since state.running.startedAt', async () => {
    setup();
    const worker = newWorker('liveness', probedPod('liveness', { initialDelaySeconds: 5 }));
    harness.status = podStatus(running('c1', { startedAt: harness.now - 4_000 }));
    await worker.doProbe();
    harness.now += 999;
    await worker.doProbe();
    expect(harness.probes).toHaveLength(0);
    harness.now += 1;
    await worker.doProbe();
    expect(harness.probes).toHaveLength(1);
  });

  test('a running state without startedAt does not hold the probe back (Go zero time: long ago)', async () => {
    setup();
    harness.status = podStatus({ ...running(), state: { running: {} } });
    await newWorker('liveness', probedPod('liveness', { initialDelaySeconds: 30 })).doProbe();
    expect(harness.probes).toHaveLength(1);
  });

  test.each(['liveness', 'readiness'] as const)('%s does not run until the container has started', async (probeType) => {
    setup();
    harness.status = podStatus(running('c1', { started: false }));
    await expect(newWorker(probeType).doProbe()).resolves.toBe(true);
    expect(harness.probes).toEqual([]);
  });

  test('startup runs while the container has not started', async () => {
    setup();
    harness.status = podStatus(running('c1', { started: false }));
    await newWorker('startup').doProbe();
    expect(harness.probes.map((p) => p.probeType)).toEqual(['startup']);
    expect(harness.result('startup')).toBe('Success');
  });

  test('startup no longer runs once the container has started (the worker stays for the next container)', async () => {
    setup();
    harness.status = podStatus(running('c1', { started: true }));
    await expect(newWorker('startup').doProbe()).resolves.toBe(true);
    expect(harness.probes).toEqual([]);
  });

  test.each(['liveness', 'readiness'] as const)('%s runs once the container has started', async (probeType) => {
    setup();
    harness.status = podStatus(running('c1', { started: true }));
    await newWorker(probeType).doProbe();
    expect(harness.probes.map((p) => p.probeType)).toEqual([probeType]);
  });

  test('the probe gets the pod, its status, the container and the bare container ID', async () => {
    setup();
    const p = probedPod('readiness');
    harness.status = podStatus(running('abc123'));
    await newWorker('readiness', p).doProbe();
    expect(harness.probes[0]!.target).toEqual({ pod: p, status: harness.status, container: p.spec.containers[0], containerId: 'abc123', init: false });
  });

  test('a sidecar is found among the init container statuses', async () => {
    setup();
    const p = pod({ initContainers: [ctr('main', { restartPolicy: 'Always', readinessProbe: { exec: { command: ['check'] } } })], containers: [ctr('app')] });
    harness.status = { phase: 'Running', initContainerStatuses: [running('side-1')], containerStatuses: [] };
    const worker = new ProbeWorker(harness.ctx, 'readiness', p, p.spec.initContainers![0]!);
    workers.push(worker);
    await worker.doProbe();
    expect(harness.probes[0]!.target).toMatchObject({ containerId: 'side-1', init: true });
    expect(harness.result('readiness', 'side-1')).toBe('Success');
  });
});

describe('ProbeWorker.doProbe: thresholds', () => {
  test('failureThreshold failures in a row are needed before Failure is stored', async () => {
    setup();
    harness.status = podStatus(running());
    const worker = newWorker('readiness', probedPod('readiness', { failureThreshold: 3 }));
    harness.script = ['Success', 'Failure', 'Failure', 'Failure'];
    await worker.doProbe();
    expect(harness.result('readiness')).toBe('Success');
    await worker.doProbe();
    await worker.doProbe();
    expect(harness.result('readiness')).toBe('Success');
    await worker.doProbe();
    expect(harness.result('readiness')).toBe('Failure');
  });

  test('a success in between starts the failure count over', async () => {
    setup();
    harness.status = podStatus(running());
    const worker = newWorker('readiness', probedPod('readiness', { failureThreshold: 2 }));
    harness.script = ['Success', 'Failure', 'Success', 'Failure'];
    for (let i = 0; i < 4; i++) await worker.doProbe();
    expect(harness.result('readiness')).toBe('Success');
    harness.script = ['Failure'];
    await worker.doProbe();
    expect(harness.result('readiness')).toBe('Failure');
  });

  test('successThreshold successes in a row are needed before Success is stored', async () => {
    setup();
    harness.status = podStatus(running());
    const worker = newWorker('readiness', probedPod('readiness', { successThreshold: 2 }));
    harness.script = ['Success', 'Success'];
    await worker.doProbe();
    expect(harness.result('readiness')).toBe('Failure');
    await worker.doProbe();
    expect(harness.result('readiness')).toBe('Success');
  });

  test('a probe that throws is discarded: the result and the run count stay as they were', async () => {
    setup();
    harness.status = podStatus(running());
    const worker = newWorker('readiness', probedPod('readiness', { failureThreshold: 2 }));
    harness.script = ['Success', 'Failure', new Error('exec failed'), 'Failure'];
    await worker.doProbe();
    await worker.doProbe();
    await expect(worker.doProbe()).resolves.toBe(true);
    expect(harness.result('readiness')).toBe('Success');
    await worker.doProbe();
    // Failure, (error), Failure: two in a row.
    expect(harness.result('readiness')).toBe('Failure');
    expect(harness.counter.incs.map((l) => l.result)).toEqual(['successful', 'failed', 'failed']);
  });
});

describe('ProbeWorker.doProbe: on hold after a liveness or startup failure', () => {
  test.each([
    ['liveness', 'Success', true],
    ['startup', 'Unknown', false],
  ] as const)('%s: after Failure no more probes until a new container ID, which starts over at %s', async (probeType, initial, started) => {
    setup();
    harness.status = podStatus(running('c1', { started }));
    const worker = newWorker(probeType, probedPod(probeType, { failureThreshold: 1, initialDelaySeconds: 10 }));
    harness.script = ['Failure'];
    await worker.doProbe();
    expect(harness.result(probeType, 'c1')).toBe('Failure');
    await worker.doProbe();
    await worker.doProbe();
    expect(harness.probes).toHaveLength(1);

    harness.status = podStatus(running('c2', { started, startedAt: harness.now }));
    await expect(worker.doProbe()).resolves.toBe(true);
    expect(harness.result(probeType, 'c1')).toBeUndefined();
    expect(harness.result(probeType, 'c2')).toBe(initial);
    harness.now += 10_000;
    harness.script = ['Success'];
    await worker.doProbe();
    expect(harness.probes).toHaveLength(2);
    expect(harness.result(probeType, 'c2')).toBe('Success');
  });

  test('the hold resets the run: the new container needs failureThreshold failures again', async () => {
    setup();
    harness.status = podStatus(running('c1'));
    const worker = newWorker('liveness', probedPod('liveness', { failureThreshold: 2 }));
    harness.script = ['Failure', 'Failure'];
    await worker.doProbe();
    await worker.doProbe();
    expect(harness.result('liveness', 'c1')).toBe('Failure');
    harness.status = podStatus(running('c2'));
    harness.script = ['Failure', 'Failure'];
    await worker.doProbe();
    expect(harness.result('liveness', 'c2')).toBe('Success');
    await worker.doProbe();
    expect(harness.result('liveness', 'c2')).toBe('Failure');
  });

  test('readiness does not hold after a Failure: it keeps probing', async () => {
    setup();
    harness.status = podStatus(running());
    const worker = newWorker('readiness', probedPod('readiness', { failureThreshold: 1 }));
    harness.script = ['Failure', 'Failure', 'Success'];
    await worker.doProbe();
    await worker.doProbe();
    await worker.doProbe();
    expect(harness.probes).toHaveLength(3);
    expect(harness.result('readiness')).toBe('Success');
  });
});

describe('ProbeWorker: prober_probe_total', () => {
  test.each([
    ['liveness', 'Liveness'],
    ['readiness', 'Readiness'],
    ['startup', 'Startup'],
  ] as const)('a %s run is counted with probe_type %s, container, pod, namespace, pod_uid and the result', async (probeType, name) => {
    setup();
    harness.status = podStatus(running('c1', { started: probeType !== 'startup' }));
    const worker = newWorker(probeType);
    harness.script = ['Success', 'Failure'];
    await worker.doProbe();
    await worker.doProbe();
    expect(harness.counter.incs).toEqual([labels(name, 'successful'), labels(name, 'failed')]);
  });

  test('nothing is counted when no probe ran', async () => {
    setup();
    harness.status = podStatus(waiting());
    await newWorker('liveness').doProbe();
    expect(harness.counter.incs).toEqual([]);
  });
});

describe('ProbeWorker.stop', () => {
  test("forgets the stored result and the worker's metric label sets, and tells the manager", async () => {
    setup();
    harness.status = podStatus(running());
    const worker = newWorker('readiness');
    await worker.doProbe();
    expect(harness.result('readiness')).toBe('Success');
    worker.stop();
    expect(harness.result('readiness')).toBeUndefined();
    expect(harness.counter.removed).toEqual([labels('Readiness', 'successful'), labels('Readiness', 'failed'), labels('Readiness', 'unknown')]);
    expect(harness.stopped).toEqual([worker]);
  });

  test('is idempotent', async () => {
    setup();
    const worker = newWorker('liveness');
    worker.stop();
    worker.stop();
    expect(harness.stopped).toHaveLength(1);
    expect(harness.counter.removed).toHaveLength(3);
  });

  test('a result that arrives after stop is not stored', async () => {
    setup();
    harness.status = podStatus(running());
    const answer = deferred<ProbeResult>();
    harness.script = [answer.promise];
    const worker = newWorker('readiness');
    const run = worker.doProbe();
    worker.stop();
    answer.resolve('Success');
    await expect(run).resolves.toBe(false);
    expect(harness.result('readiness')).toBeUndefined();
    expect(harness.counter.incs).toEqual([]);
  });
});

describe('ProbeWorker: the timer loop', () => {
  /** Fake timers; the harness clock follows the fake Date. */
  function fakeTime(): void {
    vi.useFakeTimers({ now: T0 + 3_600_000 });
    setup();
    harness.ctx.clock = { now: () => Date.now() };
    harness.status = podStatus(running());
  }

  test('a manager that started long ago: the first probe at once, then one every periodSeconds', async () => {
    fakeTime();
    harness.managerStartedAt = Date.now() - 3_600_000;
    harness.random = 0.9;
    newWorker('readiness', probedPod('readiness', { periodSeconds: 5 })).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(harness.probes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(harness.probes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(harness.probes).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(harness.probes).toHaveLength(4);
  });

  test('a manager that started less than a period ago: the first probe waits random() of a period', async () => {
    fakeTime();
    harness.managerStartedAt = Date.now() - 2_000;
    harness.random = 0.25;
    newWorker('readiness', probedPod('readiness', { periodSeconds: 10 })).start();
    await vi.advanceTimersByTimeAsync(2_499);
    expect(harness.probes).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(harness.probes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(harness.probes).toHaveLength(2);
  });

  test('a tick that comes while a probe is still running is skipped', async () => {
    fakeTime();
    harness.managerStartedAt = Date.now() - 3_600_000;
    const slow = deferred<ProbeResult>();
    harness.script = [slow.promise];
    newWorker('readiness', probedPod('readiness', { periodSeconds: 10 })).start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(harness.probes).toHaveLength(1);
    slow.resolve('Success');
    await vi.advanceTimersByTimeAsync(0);
    expect(harness.result('readiness')).toBe('Success');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(harness.probes).toHaveLength(2);
  });

  test('trigger() probes at once, between ticks', async () => {
    fakeTime();
    harness.managerStartedAt = Date.now();
    harness.random = 0.5;
    const worker = newWorker('readiness', probedPod('readiness', { periodSeconds: 10 }));
    worker.start();
    worker.trigger();
    await vi.advanceTimersByTimeAsync(0);
    expect(harness.probes).toHaveLength(1);
  });

  test('trigger() probes with the status as it is once the caller is done (not the one being replaced)', async () => {
    fakeTime();
    harness.status = podStatus(running('c1', { started: false }));
    const worker = newWorker('readiness');
    worker.trigger();
    // The caller (the status builder) goes on to publish a status where the container started.
    harness.status = podStatus(running('c1', { started: true }));
    await vi.advanceTimersByTimeAsync(0);
    expect(harness.probes.map((p) => p.probeType)).toEqual(['readiness']);
    expect(harness.result('readiness')).toBe('Success');
  });

  test('trigger() after stop() does nothing', async () => {
    fakeTime();
    const worker = newWorker('readiness');
    worker.stop();
    worker.trigger();
    await vi.advanceTimersByTimeAsync(0);
    expect(harness.probes).toEqual([]);
  });

  test('trigger() while a probe is running does not start a second one', async () => {
    fakeTime();
    const slow = deferred<ProbeResult>();
    harness.script = [slow.promise];
    const worker = newWorker('readiness');
    worker.trigger();
    worker.trigger();
    await vi.advanceTimersByTimeAsync(0);
    expect(harness.probes).toHaveLength(1);
    slow.resolve('Success');
  });

  test('a run that says stop stops the worker: no more probes, the manager is told', async () => {
    fakeTime();
    harness.managerStartedAt = Date.now() - 3_600_000;
    const worker = newWorker('readiness', probedPod('readiness', { periodSeconds: 10 }));
    worker.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(harness.probes).toHaveLength(1);
    harness.status = podStatus(running(), 'Succeeded');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(harness.stopped).toEqual([worker]);
    harness.status = podStatus(running());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(harness.probes).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('stop() clears the timers', async () => {
    fakeTime();
    harness.managerStartedAt = Date.now() - 3_600_000;
    const worker = newWorker('readiness');
    worker.start();
    await vi.advanceTimersByTimeAsync(0);
    worker.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(harness.probes).toHaveLength(1);
  });

  test('a run that blows up does not end the loop', async () => {
    fakeTime();
    harness.managerStartedAt = Date.now() - 3_600_000;
    harness.statusError = new Error('status store broke');
    newWorker('readiness', probedPod('readiness', { periodSeconds: 10 })).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(harness.stopped).toEqual([]);
    harness.statusError = undefined;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(harness.probes).toHaveLength(1);
  });
});
