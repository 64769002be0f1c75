import { describe, expect, test } from 'vitest';
import { evictionMessage, pressureConditions, rankForEviction, thresholdsMet, thresholdToReclaim, type PodUsage } from '../../../../agent/eviction/node-pressure.js';
import { parseThresholds, type Threshold } from '../../../../agent/eviction/thresholds.js';
import { ctr, pod } from '../../fixtures.js';

const Mi = 2 ** 20;
const hard = (signal: Threshold['signal'], value: Threshold['value'], minReclaim?: Threshold['value']): Threshold => ({ signal, value, gracePeriodMs: 0, hard: true, ...(minReclaim ? { minReclaim } : {}) });

describe('parseThresholds', () => {
  test('quantities and percentages, hard then soft with their grace periods and minimum reclaims; a hard 0 turns a signal off', () => {
    expect(
      parseThresholds({
        evictionHard: { 'memory.available': '200Mi', 'nodefs.available': '7.5%', 'pid.available': '0' },
        evictionSoft: { 'imagefs.available': '20%' },
        evictionSoftGracePeriodMs: { 'imagefs.available': 60_000 },
        evictionMinimumReclaim: { 'memory.available': '50Mi' },
      }),
    ).toEqual([
      hard('memory.available', { quantity: 200 * Mi }, { quantity: 50 * Mi }),
      hard('nodefs.available', { percentage: 0.075 }),
      { signal: 'imagefs.available', value: { percentage: 0.2 }, gracePeriodMs: 60_000, hard: false },
    ]);
  });
});

describe('thresholdsMet', () => {
  const memory = hard('memory.available', { quantity: 100 * Mi }, { quantity: 50 * Mi });
  const disk = hard('nodefs.available', { percentage: 0.1 });

  test('a signal below its quantity, or below its percentage of capacity, meets it; at it does not', () => {
    const observed = { 'memory.available': { available: 99 * Mi, capacity: 1000 * Mi }, 'nodefs.available': { available: 100, capacity: 1000 } };
    expect(thresholdsMet([memory, disk], observed, false)).toEqual([memory]);
  });

  test('with the minimum reclaim enforced, a threshold stays met until that much more is free', () => {
    const observed = { 'memory.available': { available: 120 * Mi, capacity: 1000 * Mi } };
    expect([thresholdsMet([memory], observed, false), thresholdsMet([memory], observed, true)]).toEqual([[], [memory]]);
  });

  test('a signal not observed meets nothing', () => {
    expect(thresholdsMet([memory], {}, true)).toEqual([]);
  });
});

describe('pressureConditions and thresholdToReclaim', () => {
  test('memory raises MemoryPressure, the file systems DiskPressure, PIDs PIDPressure; memory is acted on first', () => {
    const thresholds = [hard('imagefs.available', { percentage: 0.15 }), hard('pid.available', { quantity: 100 }), hard('memory.available', { quantity: Mi })];
    expect([...pressureConditions(thresholds)].sort()).toEqual(['DiskPressure', 'MemoryPressure', 'PIDPressure']);
    expect(thresholdToReclaim(thresholds)?.signal).toBe('memory.available');
    expect(thresholdToReclaim(thresholds.slice(0, 2))?.signal).toBe('pid.available');
    expect(thresholdToReclaim([])).toBeUndefined();
  });
});

const usage = (memoryMiB: number, diskMiB = 0): PodUsage => ({ memoryBytes: memoryMiB * Mi, diskBytes: diskMiB * Mi, containers: [{ name: 'main', memoryBytes: memoryMiB * Mi, diskBytes: diskMiB * Mi }] });
const named = (name: string, spec: Parameters<typeof pod>[0] = {}) => pod(spec, { name, uid: `uid-${name}` });

describe('rankForEviction', () => {
  test('memory: pods over their request first, then the lower priority, then the larger use beyond the request', () => {
    const withinRequest = named('within', { containers: [ctr('main', { resources: { requests: { memory: '500Mi' } } })] });
    const overLowPriority = named('over-low', { priority: 0 });
    const overHighPriorityBig = named('over-high-big', { priority: 1000 });
    const overHighPrioritySmall = named('over-high-small', { priority: 1000 });
    const ranked = rankForEviction('memory.available', [
      { pod: withinRequest, usage: usage(400) },
      { pod: overHighPrioritySmall, usage: usage(10) },
      { pod: overHighPriorityBig, usage: usage(300) },
      { pod: overLowPriority, usage: usage(5) },
    ]);
    expect(ranked.map((p) => p.metadata.name)).toEqual(['over-low', 'over-high-big', 'over-high-small', 'within']);
  });

  test('disk: by ephemeral storage beyond its request, the same way', () => {
    const small = named('small');
    const big = named('big');
    expect(rankForEviction('nodefs.available', [{ pod: small, usage: usage(900, 1) }, { pod: big, usage: usage(1, 50) }]).map((p) => p.metadata.name)).toEqual(['big', 'small']);
  });

  test('PIDs: by priority alone', () => {
    const low = named('low', { priority: -5 });
    const high = named('high', { priority: 5 });
    expect(rankForEviction('pid.available', [{ pod: high, usage: usage(1) }, { pod: low, usage: usage(1) }]).map((p) => p.metadata.name)).toEqual(['low', 'high']);
  });
});

describe('evictionMessage', () => {
  test("the kubelet's words: the resource, the threshold and what was left, then each container over its request", () => {
    const p = named('web', { containers: [ctr('main'), ctr('side', { resources: { requests: { memory: '64Mi' } } })] });
    const used: PodUsage = { memoryBytes: 80 * Mi, diskBytes: 0, containers: [{ name: 'main', memoryBytes: 30 * Mi, diskBytes: 0 }, { name: 'side', memoryBytes: 50 * Mi, diskBytes: 0 }] };
    expect(evictionMessage(hard('memory.available', { quantity: 100 * Mi }), { available: 51200 * 1024, capacity: 8192 * Mi }, p, used)).toBe(
      'The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. Container main was using 30Mi, request is 0, has larger consumption of memory. ',
    );
  });

  test('a percentage threshold is written as the quantity it is of the capacity; PIDs are counts', () => {
    const p = named('web');
    expect(evictionMessage(hard('nodefs.available', { percentage: 0.1 }), { available: 3 * 2 ** 30, capacity: 40 * 2 ** 30 }, p, usage(0))).toBe(
      'The node was low on resource: ephemeral-storage. Threshold quantity: 4Gi, available: 3Gi. ',
    );
    expect(evictionMessage(hard('pid.available', { quantity: 1000 }), { available: 12, capacity: 4096 }, p, usage(0))).toBe('The node was low on resource: pids. Threshold quantity: 1000, available: 12. ');
  });
});
