import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { removeFinishedPodsContainers } from '../../../../agent/kuberuntime/container-gc.js';
import type { RunningPod } from '../../../../agent/runtime/runtime.js';

const container = (id: string, state: 'running' | 'exited') => ({ id, name: id.split('-')[0]!, image: 'busybox', state, createdAt: 0 });
const running = (uid: string, containers: RunningPod['containers']): RunningPod => ({ pod: { uid, name: uid, namespace: 'default' }, sandboxes: [], containers });

describe('removeFinishedPodsContainers', () => {
  test("keeps each finished pod's status, then removes its dead containers, the last instance too; nothing of pods still running", async () => {
    const steps: string[] = [];
    const count = await removeFinishedPodsContainers({
      runningPods: () => [
        running('done', [container('job-1', 'exited'), container('job-0', 'exited')]),
        running('live', [container('web-2', 'running'), container('web-1', 'exited')]),
      ],
      finished: (uid) => uid === 'done',
      keepStatus: async (uid) => void steps.push(`keep ${uid}`),
      runtime: {
        removeContainer: async (id) => {
          if (id === 'job-0') throw new Error('removing container job-0: the engine did not answer within 2m');
          steps.push(`remove ${id}`);
        },
      },
      logger: pino({ level: 'silent' }),
    });
    expect([steps, count]).toEqual([['keep done', 'remove job-1'], 1]);
  });

  test('a finished pod whose status cannot be kept keeps its containers', async () => {
    const removed: string[] = [];
    const count = await removeFinishedPodsContainers({
      runningPods: () => [running('done', [container('job-0', 'exited')])],
      finished: () => true,
      keepStatus: async () => {
        throw new Error('ENOSPC: no space left on device');
      },
      runtime: { removeContainer: async (id) => void removed.push(id) },
      logger: pino({ level: 'silent' }),
    });
    expect([removed, count]).toEqual([[], 0]);
  });
});
