import { describe, expect, test } from 'vitest';
import type { PodStatus } from '../../../agent/api/types.js';
import { statusPatch } from '../../../agent/status/status-patch.js';

describe('statusPatch', () => {
  test('every field the agent owns is stated, null where it has no value, so a strategic merge removes what went', () => {
    const status: PodStatus = {
      phase: 'Running',
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-11-23T07:00:00Z' },
        { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]', lastProbeTime: null as never },
      ],
      containerStatuses: [
        { name: 'app', image: 'i', imageID: 'x', ready: true, restartCount: 1, started: true, containerID: 'docker://1', state: { running: { startedAt: '2026-11-23T07:00:00Z' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } },
      ],
      initContainerStatuses: [{ name: 'init', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } }, lastState: {} }],
    };
    expect(statusPatch(status)).toEqual({
      phase: 'Running',
      reason: null,
      message: null,
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-11-23T07:00:00Z', reason: null, message: null, lastProbeTime: null },
        { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]', lastProbeTime: null },
      ],
      containerStatuses: [
        {
          name: 'app', image: 'i', imageID: 'x', ready: true, restartCount: 1, started: true, containerID: 'docker://1',
          state: { waiting: null, running: { startedAt: '2026-11-23T07:00:00Z' }, terminated: null },
          lastState: { waiting: null, running: null, terminated: { exitCode: 1, reason: 'Error', signal: null, message: null, startedAt: null, finishedAt: null, containerID: null } },
        },
      ],
      initContainerStatuses: [
        {
          name: 'init', image: 'i', imageID: '', ready: false, restartCount: 0, containerID: null, started: null,
          state: { waiting: { reason: 'PodInitializing', message: null }, running: null, terminated: null },
          lastState: { waiting: null, running: null, terminated: null },
        },
      ],
    });
  });

  test("the pod's reason and message are kept when it has them (an eviction)", () => {
    expect(statusPatch({ phase: 'Failed', reason: 'Evicted', message: 'disk' })).toEqual({ phase: 'Failed', reason: 'Evicted', message: 'disk' });
  });
});
