import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { removeFinishedPodsContainers } from '../../../../agent/kuberuntime/container-gc.js';
import type { RunningPod } from '../../../../agent/runtime/runtime.js';

const container = (id: string, state: 'running' | 'exited') => ({ id, name: id.split('-')[0]!, image: 'busybox', state, createdAt: 0 });
const running = (uid: string, containers: RunningPod['containers']): RunningPod => ({ pod: { uid, name: uid, namespace: 'default' }, sandboxes: [], containers });

describe('removeFinishedPodsContainers', () => {
  test("removes every dead container of finished pods, the last instance too, and nothing of pods still running", async () => {
    const removed: string[] = [];
    const count = await removeFinishedPodsContainers({
      runningPods: () => [
        running('done', [container('job-1', 'exited'), container('job-0', 'exited')]),
        running('live', [container('web-2', 'running'), container('web-1', 'exited')]),
      ],
      finished: (uid) => uid === 'done',
      runtime: {
        removeContainer: async (id) => {
          if (id === 'job-0') throw new Error('removal of container job-0 is already in progress');
          removed.push(id);
        },
      },
      logger: pino({ level: 'silent' }),
    });
    expect([removed, count]).toEqual([['job-1'], 1]);
  });
});
