import { describe, expect, test } from 'vitest';
import type { Pod } from '../../../common/api/types.js';
import { containerTroubles, formatPodReports, podProgress } from '../../../library/pod-progress.js';

const pod = (restartPolicy: string, status: Pod['status']): Pod => ({ metadata: { name: 'web-n1', namespace: 'default' }, spec: { restartPolicy, containers: [{ name: 'main', image: 'x' }] }, status });
const ready = (value: 'True' | 'False') => [{ type: 'Ready', status: value }];

describe('podProgress', () => {
  test('an Always pod is ready once its Ready condition is True', () => {
    expect(podProgress(pod('Always', { phase: 'Running', conditions: ready('True') }))).toBe('ready');
    expect(podProgress(pod('Always', { phase: 'Running', conditions: ready('False') }))).toBe('pending');
    expect(podProgress(pod('Always', {}))).toBe('pending');
  });

  test('a pod that runs to completion is awaited until it Succeeds: Ready is not its goal', () => {
    expect(podProgress(pod('Never', { phase: 'Running', conditions: ready('True') }))).toBe('pending');
    expect(podProgress(pod('OnFailure', { phase: 'Succeeded' }))).toBe('completed');
  });

  test('a Failed pod has failed, whatever its policy', () => {
    expect(podProgress(pod('Never', { phase: 'Failed' }))).toBe('failed');
    expect(podProgress(pod('Always', { phase: 'Failed', reason: 'DeadlineExceeded' }))).toBe('failed');
  });
});

describe('containerTroubles', () => {
  test('names waiting, unready and failed containers with their reasons; ready and succeeded ones are left out', () => {
    const troubled = pod('Always', {
      phase: 'Running',
      initContainerStatuses: [{ name: 'init', ready: true, restartCount: 0, image: 'x', imageID: '', state: { terminated: { exitCode: 0, reason: 'Completed' } } }],
      containerStatuses: [
        { name: 'ok', ready: true, restartCount: 0, image: 'x', imageID: '', state: { running: { startedAt: '' } } },
        { name: 'slow', ready: false, restartCount: 0, image: 'x', imageID: '', state: { running: { startedAt: '' } } },
        {
          name: 'crash',
          ready: false,
          restartCount: 3,
          image: 'x',
          imageID: '',
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error' } },
        },
        { name: 'killed', ready: false, restartCount: 0, image: 'x', imageID: '', state: { terminated: { exitCode: 137, reason: 'OOMKilled', signal: 9 } } },
      ],
    });
    expect(containerTroubles(troubled)).toEqual([
      { name: 'slow', state: 'running, not ready', logsOfPrevious: false },
      { name: 'crash', state: 'waiting: CrashLoopBackOff: back-off 40s restarting failed container; last terminated: Error, exit code 1', logsOfPrevious: true },
      { name: 'killed', state: 'terminated: OOMKilled, exit code 137, signal 9', logsOfPrevious: false },
    ]);
  });
});

describe('formatPodReports', () => {
  test('a pod, its troubled containers and their last log lines', () => {
    const failed = pod('Never', { phase: 'Failed' });
    expect(formatPodReports([{ pod: failed, containers: [{ name: 'main', state: 'terminated: Error, exit code 3', logsOfPrevious: false, logTail: ['connecting', 'fatal: no database'] }] }])).toBe(
      ['pod default/web-n1 (Failed):', '  container main: terminated: Error, exit code 3', '    last log lines:', '    | connecting', '    | fatal: no database'].join('\n'),
    );
  });

  test('a pod no container of which reports a problem says what its conditions say', () => {
    const pending = pod('Always', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', message: 'Pod exceeds the node\'s pod capacity' }] });
    expect(formatPodReports([{ pod: pending, containers: [] }])).toBe("pod default/web-n1 (Pending):\n  PodScheduled: Pod exceeds the node's pod capacity");
  });
});
