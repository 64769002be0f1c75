import { describe, expect, test } from 'vitest';
import { hasEphemeralStorageLimit, localStorageViolation } from '../../../../agent/eviction/local-storage.js';
import type { PodUsage } from '../../../../agent/eviction/node-pressure.js';
import { ctr, pod } from '../../fixtures.js';

const Mi = 2 ** 20;
const limit = (value: string) => ({ resources: { limits: { 'ephemeral-storage': value } } });
const usage = (containers: Record<string, number>, volumesBytes = 0): PodUsage => ({
  memoryBytes: 0,
  diskBytes: Object.values(containers).reduce((sum, bytes) => sum + bytes, volumesBytes),
  containers: Object.entries(containers).map(([name, diskBytes]) => ({ name, memoryBytes: 0, diskBytes })),
});

describe('localStorageViolation', () => {
  test('an emptyDir over its sizeLimit comes first, with the limit as the manifest spells it', () => {
    const p = pod({ containers: [ctr('main', limit('1Mi'))], volumes: [{ name: 'data', emptyDir: { sizeLimit: '500M' } }] });
    const violation = localStorageViolation(p, [{ volume: 'data', usedBytes: 600e6, limitBytes: 500e6 }], usage({ main: 5 * Mi }));
    expect(violation?.message).toBe('Usage of EmptyDir volume "data" exceeds the limit "500M". ');
  });

  test("the pod's use (containers and volumes) over the sum of its containers' limits", () => {
    const p = pod({ containers: [ctr('a', limit('1Mi')), ctr('b', limit('2Mi'))] });
    expect(localStorageViolation(p, [], usage({ a: Mi / 2, b: Mi }, 2 * Mi))?.message).toBe('Pod ephemeral local storage usage exceeds the total limit of containers 3Mi. ');
  });

  test('a container over its own limit while the pod is within the total', () => {
    const p = pod({ containers: [ctr('writer', limit('1Mi')), ctr('idle', limit('10Mi'))] });
    expect(localStorageViolation(p, [], usage({ writer: 3 * Mi, idle: 0 }))).toEqual({
      message: 'Container writer exceeded its local ephemeral storage limit "1Mi". ',
      details: { container: 'writer', usedBytes: 3 * Mi, limitBytes: Mi },
    });
  });

  test('within every limit, or nothing measured: no violation', () => {
    const p = pod({ containers: [ctr('main', limit('10Mi'))] });
    expect(localStorageViolation(p, [], usage({ main: 9 * Mi }))).toBeUndefined();
    expect(localStorageViolation(p, [], undefined)).toBeUndefined();
    expect(localStorageViolation(p, [{ volume: 'data', usedBytes: 2 * Mi, limitBytes: 0 }], undefined)).toBeUndefined();
  });

  test('hasEphemeralStorageLimit: any container, init containers included', () => {
    expect(hasEphemeralStorageLimit(pod())).toBe(false);
    expect(hasEphemeralStorageLimit(pod({ initContainers: [ctr('init', limit('1Gi'))] }))).toBe(true);
  });
});
