import { describe, expect, test } from 'vitest';
import {
  burstableResourceConfig,
  cgroupPath,
  milliCpuToQuota,
  milliCpuToShares,
  podCgroupName,
  podCgroupNames,
  podCpuRequestMilli,
  podResourceConfig,
  podUidFromCgroup,
  qosCgroupName,
  sharesToWeight,
} from '../../../../agent/qos/qos-cgroups.js';
import { ctr, pod } from '../../fixtures.js';

const Mi = 2 ** 20;

describe('milliCpuToShares', () => {
  test.each([
    [0, 2],
    [1, 2],
    [2, 2],
    [3, 3],
    [250, 256],
    [1000, 1024],
    [1500, 1536],
    [256_000, 262_144],
    [1_000_000, 262_144],
  ])('%d millicores -> %d shares', (milli, shares) => {
    expect(milliCpuToShares(milli)).toBe(shares);
  });
});

describe('milliCpuToQuota', () => {
  test.each([
    [0, 0],
    [5, 1_000],
    [10, 1_000],
    [250, 25_000],
    [1500, 150_000],
  ])('%d millicores -> %d µs of every 100 ms', (milli, quota) => {
    expect(milliCpuToQuota(milli)).toBe(quota);
  });
});

describe('sharesToWeight (cgroup v2)', () => {
  test.each([
    [2, 1],
    [1024, 39],
    [2048, 79],
    [262_144, 10_000],
  ])('%d shares -> cpu.weight %d', (shares, weight) => {
    expect(sharesToWeight(shares)).toBe(weight);
  });
});

describe('naming', () => {
  test('Guaranteed pods right under the root, Burstable and BestEffort under their tier', () => {
    expect([qosCgroupName('dockerlet', 'Guaranteed'), qosCgroupName('dockerlet', 'Burstable'), qosCgroupName('dockerlet', 'BestEffort')]).toEqual([
      ['dockerlet'],
      ['dockerlet', 'burstable'],
      ['dockerlet', 'besteffort'],
    ]);
    expect(podCgroupName('dockerlet', 'Burstable', 'a-b')).toEqual(['dockerlet', 'burstable', 'poda-b']);
  });

  test('a pod whose class is not known may be in any of the three', () => {
    expect(podCgroupNames('dockerlet', 'u1')).toEqual([
      ['dockerlet', 'podu1'],
      ['dockerlet', 'burstable', 'podu1'],
      ['dockerlet', 'besteffort', 'podu1'],
    ]);
  });

  test('cgroupfs: the path from the hierarchy\'s root', () => {
    expect(cgroupPath(['dockerlet', 'burstable', 'pod1f2e-33'], 'cgroupfs')).toBe('/dockerlet/burstable/pod1f2e-33');
    expect(cgroupPath(['dockerlet'], 'cgroupfs')).toBe('/dockerlet');
  });

  test('systemd: nested slices, each spelling its ancestors with dashes, a name\'s own dashes turned to underscores', () => {
    expect(cgroupPath(['dockerlet'], 'systemd')).toBe('/dockerlet.slice');
    expect(cgroupPath(['dockerlet', 'burstable', 'pod1f2e-33'], 'systemd')).toBe('/dockerlet.slice/dockerlet-burstable.slice/dockerlet-burstable-pod1f2e_33.slice');
    expect(cgroupPath(['dockerlet-node-1', 'podab-cd'], 'systemd')).toBe('/dockerlet_node_1.slice/dockerlet_node_1-podab_cd.slice');
  });

  test('a component that is empty, . or .., or has a slash, is refused with its name; so is a uid of other than letters, digits and -', () => {
    for (const driver of ['cgroupfs', 'systemd'] as const) {
      for (const part of ['', '.', '..', 'a/b']) expect(() => cgroupPath(['dockerlet', part], driver)).toThrow(`invalid cgroup name component ${JSON.stringify(part)}`);
    }
    for (const uid of ['', '..', '../x', '.hidden', '-x', 'a/b']) expect(() => podCgroupName('dockerlet', 'Guaranteed', uid)).toThrow(/cannot name a cgroup/);
    // A static pod's metadata.uid may have '.' and '_'.
    expect(podCgroupName('dockerlet', 'Guaranteed', 'web.v1_a')).toEqual(['dockerlet', 'podweb.v1_a']);
  });

  test('a pod uid back from its cgroup\'s name, in either spelling; other names are none', () => {
    expect(podUidFromCgroup(['dockerlet', 'burstable'], 'poda-b', 'cgroupfs')).toBe('a-b');
    expect(podUidFromCgroup(['dockerlet'], 'burstable', 'cgroupfs')).toBeUndefined();
    expect(podUidFromCgroup(['dockerlet'], 'pod..', 'cgroupfs')).toBeUndefined();
    expect(podUidFromCgroup(['dockerlet-n', 'burstable'], 'dockerlet_n-burstable-poda_b.slice', 'systemd')).toBe('a-b');
    expect(podUidFromCgroup(['dockerlet'], 'dockerlet-burstable.slice', 'systemd')).toBeUndefined();
    expect(podUidFromCgroup(['dockerlet'], 'other-poda.slice', 'systemd')).toBeUndefined();
  });
});

describe('podResourceConfig (ResourceConfigForPod)', () => {
  test('Guaranteed: shares from the requests, the limits as a quota and a memory limit, summed over the containers', () => {
    const p = pod({
      containers: [
        ctr('main', { resources: { limits: { cpu: '500m', memory: '64Mi' } } }),
        ctr('side', { resources: { limits: { cpu: '250m', memory: '32Mi' } } }),
      ],
    });
    expect(podResourceConfig(p)).toEqual({ cpuShares: 768, cpuQuotaUs: 75_000, cpuPeriodUs: 100_000, memoryLimitBytes: 96 * Mi });
  });

  test('Burstable with requests alone: shares, no quota, no memory limit', () => {
    const p = pod({ containers: [ctr('main', { resources: { requests: { cpu: '300m', memory: '64Mi' } } })] });
    expect(podResourceConfig(p)).toEqual({ cpuShares: 307 });
  });

  test('Burstable: a quota only when every container has a cpu limit, a memory limit only when every one has a memory limit', () => {
    const p = pod({
      containers: [
        ctr('main', { resources: { requests: { cpu: '100m' }, limits: { cpu: '1', memory: '128Mi' } } }),
        ctr('side', { resources: { limits: { cpu: '500m' } } }),
      ],
    });
    // side's request defaults to its limit: 100m + 500m.
    expect(podResourceConfig(p)).toEqual({ cpuShares: 614, cpuQuotaUs: 150_000, cpuPeriodUs: 100_000 });
  });

  test('an init container without a limit means no pod limit either', () => {
    const p = pod({
      initContainers: [ctr('setup')],
      containers: [ctr('main', { resources: { requests: { cpu: '100m' }, limits: { cpu: '1', memory: '128Mi' } } })],
    });
    expect(podResourceConfig(p)).toEqual({ cpuShares: 102 });
  });

  test('BestEffort: the least shares, nothing else', () => {
    expect(podResourceConfig(pod())).toEqual({ cpuShares: 2 });
  });

  test('init containers count as the kubelet counts them: the largest of them, or the app containers together, whichever is more', () => {
    const bigInit = pod({
      initContainers: [ctr('migrate', { resources: { limits: { cpu: '2', memory: '256Mi' } } })],
      containers: [ctr('a', { resources: { limits: { cpu: '500m', memory: '64Mi' } } }), ctr('b', { resources: { limits: { cpu: '500m', memory: '64Mi' } } })],
    });
    expect(podCpuRequestMilli(bigInit)).toBe(2000);
    expect(podResourceConfig(bigInit)).toEqual({ cpuShares: 2048, cpuQuotaUs: 200_000, cpuPeriodUs: 100_000, memoryLimitBytes: 256 * Mi });
    const smallInit = pod({
      initContainers: [ctr('wait', { resources: { requests: { cpu: '100m' } } })],
      containers: [ctr('a', { resources: { requests: { cpu: '300m' } } }), ctr('b', { resources: { requests: { cpu: '400m' } } })],
    });
    expect(podCpuRequestMilli(smallInit)).toBe(700);
  });

  test('a sidecar (an init container that keeps running) counts with the app containers', () => {
    const p = pod({
      initContainers: [ctr('proxy', { restartPolicy: 'Always', resources: { requests: { cpu: '200m' } } })],
      containers: [ctr('main', { resources: { requests: { cpu: '300m' } } })],
    });
    expect(podCpuRequestMilli(p)).toBe(500);
  });

  test('the pod overhead is added to the requests, and to limits where there are some', () => {
    const p = pod({ overhead: { cpu: '100m', memory: '16Mi' }, containers: [ctr('main', { resources: { limits: { cpu: '400m', memory: '64Mi' } } })] });
    expect(podResourceConfig(p)).toEqual({ cpuShares: 512, cpuQuotaUs: 50_000, cpuPeriodUs: 100_000, memoryLimitBytes: 80 * Mi });
  });
});

describe('burstableResourceConfig', () => {
  test('the Burstable pods\' cpu requests together, as shares', () => {
    expect(burstableResourceConfig([250, 500])).toEqual({ cpuShares: 768 });
  });

  test('no Burstable pod: the least shares', () => {
    expect(burstableResourceConfig([])).toEqual({ cpuShares: 2 });
  });
});
