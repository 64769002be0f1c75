import { describe, expect, test } from 'vitest';
import type { DefaultedPod, PodStatus } from '../../../../common/api/types.js';
import { generatePodStatus } from '../../../../agent/status/generate-pod-status.js';
import { StatusManager } from '../../../../agent/status/status-manager.js';
import { instance, pod, runtimeStatus, sandbox } from '../../fixtures.js';

const NOW = Date.parse('2024-05-01T10:00:00Z');

/** The status of the default pod with `main` (id main-1) running and started, ready or not. */
function statusOf(p: DefaultedPod, ready: boolean): PodStatus {
  return generatePodStatus({
    pod: p,
    runtime: runtimeStatus(p, [sandbox(p)], [instance(p, 'main', { id: 'main-1' })]),
    previous: undefined,
    reason: () => undefined,
    terminationMessages: new Map(),
    health: () => ({ started: true, ready }),
    hostIPs: ['192.168.1.10'],
    now: NOW,
  });
}

function manager(): { statuses: StatusManager; changes: Array<{ status: PodStatus; previous: PodStatus | undefined }> } {
  const statuses = new StatusManager();
  const changes: Array<{ status: PodStatus; previous: PodStatus | undefined }> = [];
  statuses.onChange((_, status, previous) => changes.push({ status, previous }));
  return { statuses, changes };
}

describe('StatusManager.setContainerReadiness', () => {
  test('patches the last status: the container, Ready and ContainersReady; listeners hear of it', () => {
    const { statuses, changes } = manager();
    const p = pod();
    const before = statusOf(p, false);
    statuses.set(p, before);
    expect(statuses.setContainerReadiness('uid-1', 'main-1', true, NOW + 5_000)).toBe(true);
    const after = statuses.get('uid-1')!;
    expect(after.containerStatuses![0]!.ready).toBe(true);
    expect(after.conditions!.filter((c) => c.status === 'True').map((c) => c.type).sort()).toEqual([
      'ContainersReady',
      'Initialized',
      'PodReadyToStartContainers',
      'PodScheduled',
      'Ready',
    ]);
    expect(after.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe('2024-05-01T10:00:05Z');
    expect(changes).toHaveLength(2);
    expect(changes[1]).toEqual({ status: after, previous: before });
  });

  test('nothing changes: false, and no listener is called', () => {
    const { statuses, changes } = manager();
    const p = pod();
    statuses.set(p, statusOf(p, true));
    expect(statuses.setContainerReadiness('uid-1', 'main-1', true, NOW + 5_000)).toBe(false);
    expect(changes).toHaveLength(1);
  });

  test('a pod without a status: false', () => {
    const { statuses, changes } = manager();
    expect(statuses.setContainerReadiness('uid-1', 'main-1', true, NOW)).toBe(false);
    expect(statuses.get('uid-1')).toBeUndefined();
    expect(changes).toEqual([]);
  });

  test('a container the status does not know: false', () => {
    const { statuses } = manager();
    const p = pod();
    const before = statusOf(p, false);
    statuses.set(p, before);
    expect(statuses.setContainerReadiness('uid-1', 'other-1', true, NOW)).toBe(false);
    expect(statuses.get('uid-1')).toBe(before);
  });
});
