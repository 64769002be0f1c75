import { describe, expect, test } from 'vitest';
import { podUsage } from '../../../../agent/eviction/observations.js';
import type { RunningPod } from '../../../../agent/runtime/runtime.js';
import type { VolumeStats } from '../../../../agent/volumes/volume-manager.js';
import { ctr, pod } from '../../fixtures.js';

const Mi = 2 ** 20;
const p = pod({
  containers: [ctr('main'), ctr('logger')],
  volumes: [
    { name: 'scratch', emptyDir: {} },
    { name: 'cache', emptyDir: { medium: 'Memory' } },
    { name: 'settings', configMap: { name: 'settings' } },
    { name: 'token', secret: { secretName: 'token' } },
    { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
  ],
});
const running: RunningPod = {
  pod: { uid: p.metadata.uid, name: p.metadata.name, namespace: 'default' },
  sandboxes: [],
  containers: [
    { id: 'main-1', name: 'main', image: 'busybox', state: 'running', createdAt: 0 },
    { id: 'logger-1', name: 'logger', image: 'busybox', state: 'running', createdAt: 0 },
    { id: 'main-0', name: 'main', image: 'busybox', state: 'exited', createdAt: 0 },
  ],
};
const volume = (name: string, usedBytes: number): VolumeStats => ({ name, usedBytes, capacityBytes: 100 * Mi, availableBytes: 50 * Mi, inodes: 1000, inodesFree: 500 }) as VolumeStats;

function deps(fsUsage: (id: string) => Promise<{ writableLayerBytes: number; logsBytes: number } | undefined>) {
  return {
    running: () => running,
    runtime: {
      containerStats: async (id: string) => ({ timestamp: 0, cpuUsageCoreNanoSeconds: 0, memory: { usageBytes: 0, workingSetBytes: id === 'main-1' ? 30 * Mi : 10 * Mi, rssBytes: 0, pageFaults: 0, majorPageFaults: 0 } }),
      containerFsUsage: fsUsage,
    },
    volumes: { volumeStats: async () => [volume('scratch', 4 * Mi), volume('cache', 8 * Mi), volume('settings', Mi), volume('token', Mi), volume('data', 64 * Mi)] },
  };
}

describe('podUsage', () => {
  test("ephemeral storage: each running container's writable layer and logs, and the disk emptyDirs and configMaps, not memory-backed volumes nor claims", async () => {
    const usage = await podUsage(p, 'ephemeral-storage', deps(async (id) => (id === 'main-1' ? { writableLayerBytes: 2 * Mi, logsBytes: Mi } : { writableLayerBytes: 0, logsBytes: Mi })));
    expect(usage).toEqual({
      memoryBytes: 0,
      diskBytes: 3 * Mi + Mi + 4 * Mi + Mi,
      containers: [
        { name: 'main', memoryBytes: 0, diskBytes: 3 * Mi },
        { name: 'logger', memoryBytes: 0, diskBytes: Mi },
      ],
    });
  });

  test("memory: each running container's working set", async () => {
    const usage = await podUsage(p, 'memory', deps(async () => undefined));
    expect([usage.memoryBytes, usage.containers.map((c) => c.memoryBytes)]).toEqual([40 * Mi, [30 * Mi, 10 * Mi]]);
  });

  test('a container that cannot be measured rejects: the caller says so rather than counting 0', async () => {
    await expect(podUsage(p, 'ephemeral-storage', deps(async () => Promise.reject(new Error('inspect timed out'))))).rejects.toThrow('inspect timed out');
  });
});
