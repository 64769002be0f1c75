import { describe, expect, test } from 'vitest';
import type { PodStatus } from '../../../common/api/types.js';
import { podSummaryLine } from '../../../cli/pod-summary.js';
import { ctr, pod } from '../fixtures.js';

const p = pod({ containers: [ctr('main'), ctr('side')] }, { name: 'web-node-1' });

const status = (phase: string, ready: boolean, waiting: Record<string, string> = {}, podIP?: string): PodStatus => ({
  phase,
  ...(podIP ? { podIP } : {}),
  conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
  containerStatuses: ['main', 'side'].map((name) => ({
    name,
    image: 'x',
    imageID: '',
    ready,
    restartCount: 0,
    state: waiting[name] ? { waiting: { reason: waiting[name] } } : { running: {} },
  })),
});

describe('podSummaryLine', () => {
  test('the first status is always worth a line', () => {
    expect(podSummaryLine(p, status('Pending', false, { main: 'ContainerCreating', side: 'ContainerCreating' }), undefined)).toBe('pod default/web-node-1: Pending');
  });

  test('names readiness and the pod IP', () => {
    expect(podSummaryLine(p, status('Running', true, {}, '10.244.0.5'), status('Running', false))).toBe('pod default/web-node-1: Running, Ready ip=10.244.0.5');
  });

  test('lists waiting reasons other than the defaults', () => {
    const line = podSummaryLine(p, status('Pending', false, { main: 'ErrImagePull', side: 'PodInitializing' }), status('Pending', false));
    expect(line).toBe('pod default/web-node-1: Pending (main: ErrImagePull)');
  });

  test('nothing to say when phase, readiness and reasons are unchanged', () => {
    expect(podSummaryLine(p, status('Running', true, {}, '10.244.0.6'), status('Running', true, {}, '10.244.0.5'))).toBeUndefined();
  });

  test('a new waiting reason is worth a line', () => {
    const before = status('Running', false, { main: 'ErrImagePull' });
    expect(podSummaryLine(p, status('Running', false, { main: 'ImagePullBackOff' }), before)).toBe('pod default/web-node-1: Running (main: ImagePullBackOff)');
  });

  test('a change of phase is worth a line', () => {
    expect(podSummaryLine(p, status('Failed', false), status('Running', false))).toBe('pod default/web-node-1: Failed');
  });
});
