import { describe, expect, test } from 'vitest';
import { qosClass } from '../../../../common/api/qos.js';
import { ctr, pod } from '../../fixtures.js';

describe('qosClass', () => {
  test('no requests or limits: BestEffort', () => {
    expect(qosClass(pod())).toBe('BestEffort');
  });

  test('cpu and memory limits equal to requests in every container: Guaranteed', () => {
    const r = { limits: { cpu: '1', memory: '1Gi' } };
    expect(qosClass(pod({ initContainers: [ctr('i', { resources: r })], containers: [ctr('a', { resources: r })] }))).toBe('Guaranteed');
  });

  test('equal values written differently still match: Guaranteed', () => {
    expect(qosClass(pod({ containers: [ctr('a', { resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1000m', memory: '1024Mi' } } })] }))).toBe(
      'Guaranteed',
    );
  });

  test('a request below its limit: Burstable', () => {
    expect(qosClass(pod({ containers: [ctr('a', { resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } } })] }))).toBe('Burstable');
  });

  test('only a memory limit: Burstable', () => {
    expect(qosClass(pod({ containers: [ctr('a', { resources: { limits: { memory: '1Gi' } } })] }))).toBe('Burstable');
  });

  test('one container without resources next to a guaranteed one: Burstable', () => {
    expect(qosClass(pod({ containers: [ctr('a', { resources: { limits: { cpu: '1', memory: '1Gi' } } }), ctr('b')] }))).toBe('Burstable');
  });

  test('resources other than cpu and memory do not count: BestEffort', () => {
    expect(qosClass(pod({ containers: [ctr('a', { resources: { limits: { 'ephemeral-storage': '1Gi' } } })] }))).toBe('BestEffort');
  });
});
