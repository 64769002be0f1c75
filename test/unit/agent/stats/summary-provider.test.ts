import { tmpdir } from 'node:os';
import { describe, expect, test } from 'vitest';
import type { ContainerRuntime, ContainerStats, RunningPod } from '../../../../agent/runtime/runtime.js';
import { SummaryProvider } from '../../../../agent/stats/summary-provider.js';
import type { VolumeManager } from '../../../../agent/volumes/volume-manager.js';
import { memoryLogger } from '../../../helpers/memory-logger.js';
import { pod as fixturePod } from '../../fixtures.js';

const pod: RunningPod = {
  pod: { uid: 'u1', name: 'web', namespace: 'default' },
  sandboxes: [{ id: 'sandbox', state: 'ready', createdAt: 1_000 }],
  containers: [
    { id: 'a', name: 'app', image: 'i', state: 'running', createdAt: 2_000 },
    { id: 'b', name: 'sidecar', image: 'i', state: 'running', createdAt: 3_000 },
    { id: 'old', name: 'app', image: 'i', state: 'exited', createdAt: 500 },
  ],
};

/** A runtime whose containers' CPU counters are set by the test; `failing` ones throw. */
function runtime(cpu: Map<string, number>, failing: Set<string>, now: () => number): ContainerRuntime {
  const fake: Pick<ContainerRuntime, 'listPods' | 'containerStats'> = {
    listPods: async () => [pod],
    containerStats: async (id): Promise<ContainerStats | undefined> => {
      if (failing.has(id)) throw new Error('stats: connection reset');
      return { timestamp: now(), cpuUsageCoreNanoSeconds: cpu.get(id) ?? 0, memory: { usageBytes: 10, workingSetBytes: 8, rssBytes: 5, pageFaults: 1, majorPageFaults: 0 } };
    },
  };
  return fake as ContainerRuntime;
}

const ImageFs = { capacityBytes: 1000, availableBytes: 600, usedBytes: 300, inodes: 10, inodesFree: 4, inodesUsed: 6 };

function provider(cpu: Map<string, number>, failing: Set<string>, volumes: Pick<VolumeManager, 'volumeStats'> = { volumeStats: async () => [] }) {
  const clock = { ms: 10_000 };
  const log = memoryLogger();
  const summaries = new SummaryProvider({
    nodeName: 'n1',
    rootDir: tmpdir(),
    runtime: runtime(cpu, failing, () => clock.ms),
    pod: (uid) => (uid === 'u1' ? { pod: fixturePod() } : undefined),
    volumes: volumes as VolumeManager,
    imageFs: async () => ImageFs,
    clock: { now: () => clock.ms },
    logger: log.logger,
  });
  return { summaries, clock, log };
}

describe('SummaryProvider', () => {
  test("a pod's CPU rate is its containers' summed, and only when each has one; its memory their sum", async () => {
    const cpu = new Map([['a', 1e9], ['b', 2e9]]);
    const { summaries, clock } = provider(cpu, new Set());
    const cheap = await summaries.summary({ onlyCpuAndMemory: true });
    expect(cheap.node.runtime).toBeUndefined();
    const first = cheap.pods[0]!;
    expect(first.containers.map((c) => c.name)).toEqual(['app', 'sidecar']);
    expect(first.cpu).toEqual({ time: expect.any(String), usageCoreNanoSeconds: 3e9 });
    expect(first.memory).toMatchObject({ usageBytes: 20, workingSetBytes: 16 });
    expect(first.startTime).toBe('1970-01-01T00:00:01Z');
    clock.ms += 2_000;
    cpu.set('a', 2e9).set('b', 2.5e9);
    const second = (await summaries.summary({ onlyCpuAndMemory: true })).pods[0]!;
    expect(second.containers.map((c) => c.cpu.usageNanoCores)).toEqual([5e8, 2.5e8]);
    expect(second.cpu?.usageNanoCores).toBe(7.5e8);
  });

  test('a container that cannot be sampled is left out and the pod has no CPU rate; the request goes on', async () => {
    const cpu = new Map([['a', 1e9], ['b', 2e9]]);
    const failing = new Set(['b']);
    const { summaries, clock } = provider(cpu, failing);
    await summaries.summary({ onlyCpuAndMemory: true });
    failing.delete('b');
    clock.ms += 2_000;
    // b is back with its whole lifetime's CPU: no pod rate from a sum that jumped.
    const pod = (await summaries.summary({ onlyCpuAndMemory: true })).pods[0]!;
    expect(pod.containers.map((c) => c.name)).toEqual(['app', 'sidecar']);
    expect(pod.cpu).not.toHaveProperty('usageNanoCores');
  });

  test("a pod whose volumes' usage cannot be read is summed without it, logged; the node's summary goes on", async () => {
    const { summaries, log } = provider(new Map(), new Set(), {
      volumeStats: async () => {
        throw new Error('volume kind nfs is not served by dockerlet');
      },
    });
    const summary = await summaries.summary({ onlyCpuAndMemory: false });
    expect(summary.pods.map((p) => [p.podRef.name, p.volume])).toEqual([['web', undefined]]);
    expect(summary.node.runtime).toEqual({ imageFs: { time: expect.any(String), ...ImageFs }, containerFs: { time: expect.any(String), ...ImageFs } });
    expect(log.lines.filter((l) => l.msg === "reading the volumes' usage failed").map((l) => l['err'])).toEqual(['volume kind nfs is not served by dockerlet']);
  });
});
