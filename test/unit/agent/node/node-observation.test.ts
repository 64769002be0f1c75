import { tmpdir } from 'node:os';
import { describe, expect, test } from 'vitest';
import { meminfoBytes, NodeObserver } from '../../../../agent/node/node-observation.js';

/** A runtime whose version answers, or fails, as the test sets it. */
function runtime(): { answer: string | Error; version(): Promise<string> } {
  const fake = {
    answer: '20.10.24' as string | Error,
    async version(): Promise<string> {
      if (fake.answer instanceof Error) throw fake.answer;
      return fake.answer;
    },
  };
  return fake;
}

describe('NodeObserver', () => {
  test("capacity is the machine's, maxPods and the root dir's file system; the runtime's version is in nodeInfo; the pressure is eviction's", async () => {
    const docker = runtime();
    const observation = await new NodeObserver({ rootDir: tmpdir(), maxPods: 42, runtimeVersion: () => docker.version(), pressure: () => new Set(['DiskPressure']), networkNotReady: () => undefined }).observe();
    expect(observation.capacity.pods).toBe(42);
    expect([...observation.pressure]).toEqual(['DiskPressure']);
    expect(observation.capacity.milliCpu % 1000).toBe(0);
    expect(observation.capacity.ephemeralStorageBytes).toBeGreaterThan(0);
    expect(observation.notReadyReasons).toEqual([]);
    expect(observation.system.containerRuntimeVersion).toBe('docker://20.10.24');
  });

  test('a runtime that stops answering makes the node not ready, and nodeInfo keeps the version it reported last', async () => {
    const docker = runtime();
    const observer = new NodeObserver({ rootDir: tmpdir(), maxPods: 110, runtimeVersion: () => docker.version(), pressure: () => new Set(), networkNotReady: () => undefined });
    await observer.observe();
    docker.answer = new Error('connect ENOENT /var/run/docker.sock');
    const down = await observer.observe();
    expect(down.notReadyReasons).toEqual(['container runtime is down: connect ENOENT /var/run/docker.sock']);
    expect(down.system.containerRuntimeVersion).toBe('docker://20.10.24');
    docker.answer = '26.1.5';
    expect((await observer.observe()).system.containerRuntimeVersion).toBe('docker://26.1.5');
  });

  test('a pod network that is not ready yet (no pod subnet) makes the node not ready, with why', async () => {
    const docker = runtime();
    let reason: string | undefined = 'container runtime network not ready: NetworkReady=false';
    const observer = new NodeObserver({ rootDir: tmpdir(), maxPods: 110, runtimeVersion: () => docker.version(), pressure: () => new Set(), networkNotReady: () => reason });
    expect((await observer.observe()).notReadyReasons).toEqual(['container runtime network not ready: NetworkReady=false']);
    reason = undefined;
    expect((await observer.observe()).notReadyReasons).toEqual([]);
  });

  test('a runtime that never answered leaves the version empty rather than a bare docker://', async () => {
    const docker = runtime();
    docker.answer = new Error('no engine');
    const observation = await new NodeObserver({ rootDir: tmpdir(), maxPods: 110, runtimeVersion: () => docker.version(), pressure: () => new Set(), networkNotReady: () => undefined }).observe();
    expect(observation.system.containerRuntimeVersion).toBe('');
  });
});

describe('meminfoBytes', () => {
  test('reads a field of /proc/meminfo in bytes; a missing one is undefined', () => {
    const meminfo = 'MemTotal:       24576000 kB\nMemAvailable:   20000000 kB\nInactive(file):  1000 kB\n';
    expect([meminfoBytes(meminfo, 'MemAvailable'), meminfoBytes(meminfo, 'Inactive(file)'), meminfoBytes(meminfo, 'SwapTotal')]).toEqual([20000000 * 1024, 1000 * 1024, undefined]);
  });
});
