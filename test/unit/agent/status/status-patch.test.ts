import { describe, expect, test } from 'vitest';
import type { PodStatus } from '../../../../common/api/types.js';
import { statusPatch } from '../../../../agent/status/status-patch.js';

describe('statusPatch', () => {
  test('conditions state their reason, message and lastProbeTime, null when absent; merged IP lists are replaced whole', () => {
    const running = { name: 'app', image: 'i', imageID: 'x', ready: true, restartCount: 0, state: { running: { startedAt: '2026-11-23T07:00:00Z' } } };
    const status: PodStatus = {
      phase: 'Running',
      podIP: '10.244.0.5',
      podIPs: [{ ip: '10.244.0.5' }],
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-11-23T07:00:00Z' },
        { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]' },
      ],
      containerStatuses: [running],
    };
    expect(statusPatch(status)).toEqual({
      phase: 'Running',
      reason: null,
      message: null,
      podIP: '10.244.0.5',
      podIPs: [{ $patch: 'replace' }, { ip: '10.244.0.5' }],
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-11-23T07:00:00Z', reason: null, message: null, lastProbeTime: null },
        { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]', lastProbeTime: null },
      ],
      // No patch strategy: the server replaces the list with this one.
      containerStatuses: [running],
    });
  });

  test("the pod's reason and message are kept when it has them (an eviction)", () => {
    expect(statusPatch({ phase: 'Failed', reason: 'Evicted', message: 'disk' })).toEqual({ phase: 'Failed', reason: 'Evicted', message: 'disk' });
  });
});
