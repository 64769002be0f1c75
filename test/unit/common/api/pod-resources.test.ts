import { describe, expect, test } from 'vitest';
import { containerResource, podResource } from '../../../../common/api/pod-resources.js';
import { ctr, pod } from '../../fixtures.js';

const requests = (cpu: string) => ({ resources: { requests: { cpu } } });

describe('podResource', () => {
  test('app containers add up; undefined when no container sets the resource', () => {
    const p = pod({ containers: [ctr('a', requests('100m')), ctr('b', requests('250m')), ctr('c')] });
    expect(podResource(p, 'requests', 'cpu')).toBe(0.35);
    expect(podResource(p, 'limits', 'cpu')).toBeUndefined();
    expect(podResource(pod(), 'requests', 'memory')).toBeUndefined();
  });

  test('the largest init container wins when it asks for more than the app containers together', () => {
    const p = pod({ initContainers: [ctr('migrate', requests('2')), ctr('small', requests('100m'))], containers: [ctr('app', requests('500m'))] });
    expect(podResource(p, 'requests', 'cpu')).toBe(2);
  });

  test('a sidecar runs beside the app containers and beside the init containers started after it', () => {
    const p = pod({
      initContainers: [ctr('first', requests('1')), ctr('proxy', { ...requests('300m'), restartPolicy: 'Always' }), ctr('after', requests('1'))],
      containers: [ctr('app', requests('500m'))],
    });
    // app + sidecar = 0.8; 'after' with the sidecar = 1.3; 'first' ran alone = 1.
    expect(podResource(p, 'requests', 'cpu')).toBe(1.3);
  });

  test('containerResource reads one container, undefined when unset', () => {
    expect(containerResource(ctr('a', { resources: { limits: { 'ephemeral-storage': '1Mi' } } }), 'limits', 'ephemeral-storage')).toBe(2 ** 20);
    expect(containerResource(ctr('a'), 'limits', 'ephemeral-storage')).toBeUndefined();
    expect(containerResource(undefined, 'requests', 'cpu')).toBeUndefined();
  });
});
