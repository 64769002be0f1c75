import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { DefaultedPod } from '../../../../common/api/types.js';
import { EvictionManager, type PodEviction } from '../../../../agent/eviction/eviction-manager.js';
import type { Observations, PodUsage } from '../../../../agent/eviction/node-pressure.js';
import type { Threshold } from '../../../../agent/eviction/thresholds.js';
import type { EmptyDirUsage } from '../../../../agent/volumes/volume-manager.js';
import { ctr, deferred, FakeRecorder, pod } from '../../fixtures.js';

const MiB = 1024 * 1024;

/** A volume manager whose emptyDirUsage answers what the test scripts, per pod uid. */
class FakeVolumes {
  usage = new Map<string, () => EmptyDirUsage[] | Promise<EmptyDirUsage[]>>();
  calls: string[] = [];

  async emptyDirUsage(p: DefaultedPod): Promise<EmptyDirUsage[]> {
    this.calls.push(p.metadata.uid);
    return (this.usage.get(p.metadata.uid) ?? (() => []))();
  }
}

let volumes: FakeVolumes;
/** Each pod's ephemeral storage use, per uid, for the local storage limits. */
let diskUsages: Map<string, PodUsage>;
let usageCalls: string[];
let recorder: FakeRecorder;
let active: DefaultedPod[];
let evicted: Array<{ uid: string; eviction: PodEviction | undefined }>;
let logLines: Array<Record<string, unknown>>;
let manager: EvictionManager;

beforeEach(() => {
  volumes = new FakeVolumes();
  diskUsages = new Map();
  usageCalls = [];
  recorder = new FakeRecorder();
  active = [];
  evicted = [];
  logLines = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  manager = new EvictionManager({
    volumes,
    podUsage: async (p, resource) => {
      usageCalls.push(`${p.metadata.uid}/${resource}`);
      return diskUsages.get(p.metadata.uid) ?? { memoryBytes: 0, diskBytes: 0, containers: [] };
    },
    activePods: () => active,
    recorder,
    // What the manager already knows when it calls back.
    onEvict: (p) => evicted.push({ uid: p.metadata.uid, eviction: manager.eviction(p.metadata.uid) }),
    periodMs: 10_000,
    logger: pino({ level: 'info' }, sink),
  });
});

afterEach(() => {
  manager.stop();
  vi.useRealTimers();
});

/** A pod `name` (uid `uid-<name>`) with a disk emptyDir `data` limited to `sizeLimit`. */
function greedy(name: string, sizeLimit = '1Mi'): DefaultedPod {
  return pod({ volumes: [{ name: 'data', emptyDir: { sizeLimit } }] }, { name, uid: `uid-${name}` });
}

const using = (volume: string, usedBytes: number, limitBytes: number): EmptyDirUsage => ({ volume, usedBytes, limitBytes });
const message = 'Usage of EmptyDir volume "data" exceeds the limit "1Mi". ';

describe('EvictionManager.check', () => {
  test('a pod over its emptyDir limit is evicted with upstream\'s message, an Evicted Warning event and one onEvict', async () => {
    const p = greedy('web');
    active = [p];
    volumes.usage.set('uid-web', () => [using('data', 3 * MiB, MiB)]);
    await manager.check();
    expect(manager.eviction('uid-web')).toEqual({ reason: 'Evicted', message, gracePeriodSeconds: 1 });
    expect(recorder.events).toEqual([
      { object: { kind: 'Pod', uid: 'uid-web', name: 'web', namespace: 'default' }, type: 'Warning', reason: 'Evicted', message },
    ]);
    expect(evicted).toEqual([{ uid: 'uid-web', eviction: { reason: 'Evicted', message, gracePeriodSeconds: 1 } }]);
  });

  test('a container over its ephemeral-storage limit is evicted with the kubelet\'s message; a pod without such a limit is not measured', async () => {
    const limited = pod(
      { containers: [ctr('writer', { resources: { limits: { 'ephemeral-storage': '1Mi' } } }), ctr('idle', { resources: { limits: { 'ephemeral-storage': '10Mi' } } })] },
      { name: 'limited', uid: 'uid-limited' },
    );
    const free = pod({}, { name: 'free', uid: 'uid-free' });
    active = [limited, free];
    diskUsages.set('uid-limited', { memoryBytes: 0, diskBytes: 3 * MiB, containers: [{ name: 'writer', memoryBytes: 0, diskBytes: 3 * MiB }, { name: 'idle', memoryBytes: 0, diskBytes: 0 }] });
    diskUsages.set('uid-free', { memoryBytes: 0, diskBytes: 100 * MiB, containers: [{ name: 'main', memoryBytes: 0, diskBytes: 100 * MiB }] });
    await manager.check();
    expect(evicted).toEqual([{ uid: 'uid-limited', eviction: { reason: 'Evicted', message: 'Container writer exceeded its local ephemeral storage limit "1Mi". ', gracePeriodSeconds: 1 } }]);
    expect(usageCalls).toEqual(['uid-limited/ephemeral-storage']);
  });

  test('a critical pod (system-node-critical) over its limit is never evicted, nor measured', async () => {
    const critical = pod({ priorityClassName: 'system-node-critical', volumes: [{ name: 'data', emptyDir: { sizeLimit: '1Mi' } }] }, { name: 'dns', uid: 'uid-dns' });
    active = [critical];
    volumes.usage.set('uid-dns', () => [using('data', 3 * MiB, MiB)]);
    await manager.check();
    expect([manager.eviction('uid-dns'), recorder.events, evicted, volumes.calls]).toEqual([undefined, [], [], []]);
  });

  test('an evicted pod is evicted once: later checks neither measure it nor record anything', async () => {
    active = [greedy('web')];
    volumes.usage.set('uid-web', () => [using('data', 3 * MiB, MiB)]);
    await manager.check();
    await manager.check();
    await manager.check();
    expect(volumes.calls).toEqual(['uid-web']);
    expect(recorder.reasons()).toEqual(['Evicted']);
    expect(evicted).toHaveLength(1);
  });

  test('the message names the limit as the spec writes it, with its trailing space', async () => {
    active = [greedy('web', '500M')];
    volumes.usage.set('uid-web', () => [using('data', 600_000_000, 500_000_000)]);
    await manager.check();
    expect(manager.eviction('uid-web')?.message).toBe('Usage of EmptyDir volume "data" exceeds the limit "500M". ');
  });

  test('with several volumes over their limits, the first in the spec is named', async () => {
    const p = pod(
      {
        volumes: [
          { name: 'first', emptyDir: { sizeLimit: '1Mi' } },
          { name: 'second', emptyDir: { sizeLimit: '2Mi' } },
        ],
      },
      { name: 'web', uid: 'uid-web' },
    );
    active = [p];
    volumes.usage.set('uid-web', () => [using('first', 2 * MiB, MiB), using('second', 3 * MiB, 2 * MiB)]);
    await manager.check();
    expect(manager.eviction('uid-web')?.message).toBe('Usage of EmptyDir volume "first" exceeds the limit "1Mi". ');
  });

  test('a pod under its limit is left alone', async () => {
    active = [greedy('web')];
    volumes.usage.set('uid-web', () => [using('data', MiB - 1, MiB)]);
    await manager.check();
    expect(manager.eviction('uid-web')).toBeUndefined();
    expect(recorder.events).toEqual([]);
    expect(evicted).toEqual([]);
  });

  test('usage exactly at the limit is not over it', async () => {
    active = [greedy('web')];
    volumes.usage.set('uid-web', () => [using('data', MiB, MiB)]);
    await manager.check();
    expect(manager.eviction('uid-web')).toBeUndefined();
  });

  test('a limit of zero never evicts (upstream: size.Sign() == 1)', async () => {
    active = [greedy('web', '0')];
    volumes.usage.set('uid-web', () => [using('data', 4096, 0)]);
    await manager.check();
    expect(manager.eviction('uid-web')).toBeUndefined();
  });

  test('each active pod is judged on its own', async () => {
    active = [greedy('small'), greedy('big'), greedy('also-big')];
    volumes.usage.set('uid-small', () => [using('data', 10, MiB)]);
    volumes.usage.set('uid-big', () => [using('data', 2 * MiB, MiB)]);
    volumes.usage.set('uid-also-big', () => [using('data', 5 * MiB, MiB)]);
    await manager.check();
    expect(evicted.map((e) => e.uid)).toEqual(['uid-big', 'uid-also-big']);
    expect(manager.eviction('uid-small')).toBeUndefined();
  });

  test('a failing measurement is logged and skipped; the other pods are still checked', async () => {
    active = [greedy('broken'), greedy('web')];
    volumes.usage.set('uid-broken', () => Promise.reject(new Error('EACCES: permission denied, scandir \'/x\'')));
    volumes.usage.set('uid-web', () => [using('data', 3 * MiB, MiB)]);
    await manager.check();
    expect(manager.eviction('uid-broken')).toBeUndefined();
    expect(evicted.map((e) => e.uid)).toEqual(['uid-web']);
    const warnings = logLines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      component: 'eviction-manager',
      pod: 'broken',
      podUID: 'uid-broken',
      err: "EACCES: permission denied, scandir '/x'",
      msg: 'measuring emptyDir usage failed',
    });
  });

  test('check() while a check runs does nothing more', async () => {
    const measured = deferred<EmptyDirUsage[]>();
    active = [greedy('web')];
    volumes.usage.set('uid-web', () => measured.promise);
    const first = manager.check();
    await manager.check();
    expect(volumes.calls).toEqual(['uid-web']);
    measured.resolve([using('data', 3 * MiB, MiB)]);
    await first;
    expect(evicted).toHaveLength(1);
  });

  test('once a check is done, the next one runs', async () => {
    active = [greedy('web')];
    volumes.usage.set('uid-web', () => [using('data', 10, MiB)]);
    await manager.check();
    volumes.usage.set('uid-web', () => [using('data', 2 * MiB, MiB)]);
    await manager.check();
    expect(volumes.calls).toEqual(['uid-web', 'uid-web']);
    expect(evicted.map((e) => e.uid)).toEqual(['uid-web']);
  });

  test('a failed measurement does not leave the manager stuck as checking', async () => {
    active = [greedy('web')];
    volumes.usage.set('uid-web', () => Promise.reject(new Error('boom')));
    await manager.check();
    volumes.usage.set('uid-web', () => [using('data', 2 * MiB, MiB)]);
    await manager.check();
    expect(evicted.map((e) => e.uid)).toEqual(['uid-web']);
  });
});

describe('EvictionManager.eviction and forget', () => {
  test('eviction(uid) is undefined for a pod never evicted', () => {
    expect(manager.eviction('uid-web')).toBeUndefined();
  });

  test('eviction(uid) returns the eviction until forget(uid)', async () => {
    active = [greedy('web')];
    volumes.usage.set('uid-web', () => [using('data', 3 * MiB, MiB)]);
    await manager.check();
    expect(manager.eviction('uid-web')).toEqual({ reason: 'Evicted', message, gracePeriodSeconds: 1 });
    expect(manager.eviction('uid-web')).toEqual({ reason: 'Evicted', message, gracePeriodSeconds: 1 });
    manager.forget('uid-web');
    expect(manager.eviction('uid-web')).toBeUndefined();
  });

  test('forget of one pod keeps the others\' evictions', async () => {
    active = [greedy('a'), greedy('b')];
    volumes.usage.set('uid-a', () => [using('data', 3 * MiB, MiB)]);
    volumes.usage.set('uid-b', () => [using('data', 3 * MiB, MiB)]);
    await manager.check();
    manager.forget('uid-a');
    expect(manager.eviction('uid-a')).toBeUndefined();
    expect(manager.eviction('uid-b')).toEqual({ reason: 'Evicted', message, gracePeriodSeconds: 1 });
  });
});

describe('EvictionManager.start and stop', () => {
  test('start checks every periodMs; stop ends it', async () => {
    vi.useFakeTimers();
    active = [greedy('web')];
    volumes.usage.set('uid-web', () => [using('data', 10, MiB)]);
    manager.start();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(volumes.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(volumes.calls).toEqual(['uid-web']);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(volumes.calls).toEqual(['uid-web', 'uid-web']);
    manager.stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(volumes.calls).toEqual(['uid-web', 'uid-web']);
  });
});

describe('EvictionManager: node pressure', () => {
  const Mi = 2 ** 20;
  let observed: Observations;
  let now: number;
  let reclaims: number;
  let afterReclaim: Observations | undefined;
  let usages: Map<string, PodUsage>;
  let runningPods: Set<string>;

  const memoryUsage = (mib: number): PodUsage => ({ memoryBytes: mib * Mi, diskBytes: 0, containers: [{ name: 'main', memoryBytes: mib * Mi, diskBytes: 0 }] });

  function pressured(thresholds: Threshold[], transitionMs = 60_000, maxPodGracePeriodSeconds = 20): EvictionManager {
    now = 0;
    reclaims = 0;
    afterReclaim = undefined;
    usages = new Map();
    runningPods = new Set();
    const node = { kind: 'Node' as const, name: 'node-a', uid: 'node-a' };
    const created = new EvictionManager({
      volumes,
      podUsage: async (p) => usages.get(p.metadata.uid) ?? memoryUsage(0),
      nodePressure: {
        thresholds,
        pressureTransitionPeriodMs: transitionMs,
        maxPodGracePeriodSeconds,
        observe: async () => observed,
        reclaimDisk: async () => {
          reclaims++;
          if (afterReclaim) observed = afterReclaim;
        },
        podRunning: (uid) => runningPods.has(uid),
        node,
        clock: { now: () => now },
      },
      activePods: () => active,
      recorder,
      onEvict: (p) => evicted.push({ uid: p.metadata.uid, eviction: created.eviction(p.metadata.uid) }),
      periodMs: 10_000,
      logger: pino({ level: 'silent' }),
    });
    return created;
  }

  const memory = (availableMiB: number): Observations => ({ 'memory.available': { available: availableMiB * Mi, capacity: 1000 * Mi } });
  const hardMemory: Threshold = { signal: 'memory.available', value: { quantity: 100 * Mi }, gracePeriodMs: 0, hard: true };

  test('a hard threshold met: MemoryPressure, EvictionThresholdMet, and one pod evicted per pass, the one over its request first', async () => {
    const m = pressured([hardMemory]);
    const small = pod({}, { name: 'small', uid: 'uid-small' });
    const big = pod({}, { name: 'big', uid: 'uid-big' });
    active = [small, big];
    usages.set('uid-small', memoryUsage(10)).set('uid-big', memoryUsage(300));
    observed = memory(50);
    await m.check();
    expect([...m.conditions()]).toEqual(['MemoryPressure']);
    expect(evicted.map((e) => e.uid)).toEqual(['uid-big']);
    expect(evicted[0]!.eviction?.message).toBe('The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. Container main was using 300Mi, request is 0, has larger consumption of memory. ');
    expect(recorder.events.filter((e) => e.object.kind === 'Node').map((e) => [e.type, e.reason, e.message])).toEqual([['Warning', 'EvictionThresholdMet', 'Attempting to reclaim memory']]);
    await m.check();
    expect(evicted.map((e) => e.uid)).toEqual(['uid-big', 'uid-small']);
    // A hard threshold's victims are stopped after 1 s, whatever their own grace period.
    expect(evicted.map((e) => e.eviction?.gracePeriodSeconds)).toEqual([1, 1]);
  });

  test('a soft threshold acts only once it has held for its grace period; the condition is raised at once', async () => {
    const m = pressured([{ ...hardMemory, hard: false, gracePeriodMs: 30_000 }]);
    active = [pod()];
    observed = memory(50);
    await m.check();
    expect([[...m.conditions()], evicted]).toEqual([['MemoryPressure'], []]);
    now += 20_000;
    await m.check();
    expect(evicted).toEqual([]);
    now += 10_000;
    await m.check();
    expect(evicted.map((e) => e.uid)).toEqual(['uid-1']);
    // A soft threshold's victim gets evictionMaxPodGracePeriod (20 s here), its own (30 s) being longer.
    expect(evicted[0]!.eviction?.gracePeriodSeconds).toBe(20);
  });

  test("a soft threshold's victim is given its own grace period when it is shorter than evictionMaxPodGracePeriod", async () => {
    const m = pressured([{ ...hardMemory, hard: false }]);
    active = [pod({ terminationGracePeriodSeconds: 5 })];
    observed = memory(50);
    await m.check();
    expect(evicted.map((e) => e.eviction?.gracePeriodSeconds)).toEqual([5]);
  });

  test('a soft threshold with evictionMaxPodGracePeriod 0 still gives its victim 1 s', async () => {
    const m = pressured([{ ...hardMemory, hard: false }], 60_000, 0);
    active = [pod({ terminationGracePeriodSeconds: 5 })];
    observed = memory(50);
    await m.check();
    expect(evicted.map((e) => e.eviction?.gracePeriodSeconds)).toEqual([1]);
  });

  test('a condition stays for the pressure transition period after the threshold was last met', async () => {
    const m = pressured([hardMemory], 60_000);
    observed = memory(50);
    await m.check();
    observed = memory(500);
    now += 59_000;
    await m.check();
    expect([...m.conditions()]).toEqual(['MemoryPressure']);
    now += 1_000;
    await m.check();
    expect([...m.conditions()]).toEqual([]);
  });

  test('disk: unused images are reclaimed first, and when that frees enough no pod is evicted', async () => {
    const m = pressured([{ signal: 'nodefs.available', value: { percentage: 0.1 }, gracePeriodMs: 0, hard: true }]);
    active = [pod()];
    observed = { 'nodefs.available': { available: 50, capacity: 1000 } };
    afterReclaim = { 'nodefs.available': { available: 300, capacity: 1000 } };
    await m.check();
    expect([reclaims, evicted, [...m.conditions()]]).toEqual([1, [], ['DiskPressure']]);
  });

  test('a threshold acted on stays met until its minimum reclaim is free too', async () => {
    const m = pressured([{ ...hardMemory, minReclaim: { quantity: 100 * Mi } }]);
    active = [pod({}, { name: 'a', uid: 'uid-a' }), pod({}, { name: 'b', uid: 'uid-b' })];
    observed = memory(50);
    await m.check();
    observed = memory(150); // above the threshold, not above it plus the minimum reclaim
    await m.check();
    expect(evicted).toHaveLength(2);
    observed = memory(250);
    active = [pod({}, { name: 'c', uid: 'uid-c' })];
    await m.check();
    expect(evicted).toHaveLength(2);
  });

  test('a critical pod is never evicted for node pressure, however much it uses', async () => {
    const m = pressured([hardMemory]);
    active = [
      pod({ priorityClassName: 'system-cluster-critical' }, { name: 'dns', uid: 'uid-dns' }),
      pod({ priorityClassName: 'system-node-critical' }, { name: 'proxy', uid: 'uid-proxy' }),
      pod({}, { name: 'app', uid: 'uid-app' }),
    ];
    usages.set('uid-dns', memoryUsage(900)).set('uid-proxy', memoryUsage(900)).set('uid-app', memoryUsage(1));
    observed = memory(50);
    await m.check();
    await m.check();
    expect(evicted.map((e) => e.uid)).toEqual(['uid-app']);
  });

  test('while the pod evicted last still runs, no other is chosen; once it has stopped, or after 30 s, the next is', async () => {
    const m = pressured([hardMemory]);
    active = [pod({}, { name: 'a', uid: 'uid-a' }), pod({}, { name: 'b', uid: 'uid-b' }), pod({}, { name: 'c', uid: 'uid-c' })];
    usages.set('uid-a', memoryUsage(30)).set('uid-b', memoryUsage(20)).set('uid-c', memoryUsage(10));
    runningPods = new Set(['uid-a', 'uid-b', 'uid-c']);
    observed = memory(50);
    await m.check();
    now += 10_000;
    await m.check();
    expect(evicted.map((e) => e.uid)).toEqual(['uid-a']);
    runningPods.delete('uid-a');
    await m.check();
    expect(evicted.map((e) => e.uid)).toEqual(['uid-a', 'uid-b']);
    now += 30_000;
    await m.check();
    expect(evicted.map((e) => e.uid)).toEqual(['uid-a', 'uid-b', 'uid-c']);
  });
});

describe('EvictionManager: a failing observation', () => {
  test('is logged and the pass ends; nothing is evicted and check() does not reject', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        callback();
      },
    });
    const m = new EvictionManager({
      volumes,
      podUsage: async () => ({ memoryBytes: 0, diskBytes: 0, containers: [] }),
      nodePressure: {
        thresholds: [{ signal: 'memory.available', value: { quantity: 1 }, gracePeriodMs: 0, hard: true }],
        pressureTransitionPeriodMs: 1,
        maxPodGracePeriodSeconds: 0,
        observe: async () => {
          throw new Error('/proc/meminfo: EACCES');
        },
        reclaimDisk: async () => undefined,
        podRunning: () => false,
        node: { kind: 'Node', name: 'n', uid: 'n' },
        clock: { now: () => 0 },
      },
      activePods: () => [pod()],
      recorder,
      onEvict: () => evicted.push({ uid: 'unexpected', eviction: undefined }),
      periodMs: 10_000,
      logger: pino({ level: 'info' }, sink),
    });
    await expect(m.check()).resolves.toBeUndefined();
    expect(evicted).toEqual([]);
    expect(lines.map((l) => [l['msg'], l['err']])).toEqual([['the eviction manager could not check the node', '/proc/meminfo: EACCES']]);
  });
});
