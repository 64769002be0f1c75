import { describe, expect, test } from 'vitest';
import type { Container } from '../../../../common/api/types.js';
import { containerOOMScoreAdj } from '../../../../agent/qos/qos-policy.js';
import { ctr, pod } from '../../fixtures.js';

const GiB = 2 ** 30;
const Capacity = 8 * GiB;
const score = (container: Container, spec: Parameters<typeof pod>[0] = {}): number =>
  containerOOMScoreAdj(pod({ ...spec, containers: [container] }), container, Capacity);

describe('containerOOMScoreAdj', () => {
  test('Guaranteed: -997, the last the OOM killer takes', () => {
    expect(score(ctr('main', { resources: { limits: { cpu: '1', memory: '1Gi' } } }))).toBe(-997);
  });

  test('BestEffort: 1000, the first it takes', () => {
    expect(score(ctr('main'))).toBe(1000);
  });

  test('Burstable: 1000 less the memory request\'s thousandths of the node\'s memory', () => {
    expect(score(ctr('main', { resources: { requests: { memory: '1Gi' } } }))).toBe(875);
    expect(score(ctr('main', { resources: { requests: { memory: '2Gi' }, limits: { memory: '4Gi' } } }))).toBe(750);
  });

  test('Burstable without a memory request (a CPU request only) scores 999, just below BestEffort', () => {
    expect(score(ctr('main', { resources: { requests: { cpu: '100m' } } }))).toBe(999);
  });

  test('Burstable requesting about all the node\'s memory never goes below 3, above a Guaranteed container', () => {
    expect(score(ctr('main', { resources: { requests: { memory: '8Gi' } } }))).toBe(3);
    expect(score(ctr('main', { resources: { requests: { memory: '16Gi' } } }))).toBe(3);
  });

  test('each container of a Burstable pod is reckoned on its own request', () => {
    const small = ctr('small', { resources: { requests: { memory: '512Mi' } } });
    const none = ctr('none');
    const p = pod({ containers: [small, none] });
    expect([containerOOMScoreAdj(p, small, Capacity), containerOOMScoreAdj(p, none, Capacity)]).toEqual([938, 999]);
  });

  test('a node-critical pod (system-node-critical) scores as Guaranteed whatever its class; other priorities, critical or not, go by class', () => {
    expect(score(ctr('main'), { priorityClassName: 'system-node-critical' })).toBe(-997);
    expect(score(ctr('main'), { priorityClassName: 'system-cluster-critical' })).toBe(1000);
    expect(score(ctr('main'), { priority: 2_000_001_000 })).toBe(1000);
  });
});
