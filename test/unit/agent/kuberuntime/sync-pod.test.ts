import { describe, expect, test } from 'vitest';
import { podLabel } from '../../../../agent/kuberuntime/container-killer.js';
import { nextRestartCount } from '../../../../agent/kuberuntime/sync-pod.js';
import { exited, instance, pod } from '../../fixtures.js';

describe('podLabel (format.Pod)', () => {
  test('is <name>_<namespace>(<uid>)', () => {
    expect(podLabel(pod({}, { name: 'web-node-1', namespace: 'kube-system', uid: 'abc' }).metadata)).toBe('web-node-1_kube-system(abc)');
  });
});

describe('nextRestartCount', () => {
  const p = pod();

  test('a container that never ran starts at 0', () => {
    expect(nextRestartCount('main', [], {})).toBe(0);
  });

  test('is one more than the newest instance', () => {
    const containers = [exited(p, 'main', 1, { id: 'b', restartCount: 4 }), exited(p, 'main', 1, { id: 'a', restartCount: 3 })];
    expect(nextRestartCount('main', containers, {})).toBe(5);
  });

  test('only counts instances of that container', () => {
    const other = { ...instance(p, 'main'), name: 'other', restartCount: 9 };
    expect(nextRestartCount('main', [other], {})).toBe(0);
  });

  test('is never less than the restart count last reported (a vanished container still counts)', () => {
    expect(nextRestartCount('main', [], { containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 6 }] })).toBe(6);
  });

  test('reads init container statuses too', () => {
    expect(nextRestartCount('setup', [], { initContainerStatuses: [{ name: 'setup', image: 'x', imageID: '', ready: false, restartCount: 2 }] })).toBe(2);
  });

  test('takes the larger of the runtime and the reported count', () => {
    const containers = [exited(p, 'main', 1, { restartCount: 7 })];
    expect(nextRestartCount('main', containers, { containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 2 }] })).toBe(8);
  });
});
