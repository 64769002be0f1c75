import { describe, expect, test } from 'vitest';
import type { Container } from '../../../../common/api/types.js';
import { memoryVolumeSize, podMemoryLimit } from '../../../../agent/volumes/plugins/empty-dir.js';
import { ctr, pod } from '../../fixtures.js';

const MiB = 1024 * 1024;
const limited = (name: string, memory: string, extra: Partial<Container> = {}): Container => ctr(name, { resources: { limits: { memory } }, ...extra });

describe('podMemoryLimit (ResourceConfigForPod, PodLimits)', () => {
  test('app containers\' limits are summed', () => {
    expect(podMemoryLimit(pod({ containers: [limited('a', '10Mi'), limited('b', '6Mi')] }))).toBe(16 * MiB);
  });

  test('undefined when one container declares no memory limit', () => {
    expect(podMemoryLimit(pod({ containers: [limited('a', '10Mi'), ctr('b')] }))).toBeUndefined();
  });

  test('undefined when an init container declares none', () => {
    expect(podMemoryLimit(pod({ initContainers: [ctr('init')], containers: [limited('a', '10Mi')] }))).toBeUndefined();
  });

  test('a regular init container larger than the app containers sets the limit', () => {
    expect(podMemoryLimit(pod({ initContainers: [limited('init', '64Mi')], containers: [limited('a', '10Mi'), limited('b', '6Mi')] }))).toBe(64 * MiB);
  });

  test('sidecars add to the app containers, and to the init containers after them', () => {
    const p = pod({
      initContainers: [limited('side', '8Mi', { restartPolicy: 'Always' }), limited('init', '20Mi')],
      containers: [limited('a', '10Mi')],
    });
    expect(podMemoryLimit(p)).toBe(28 * MiB);
  });

  test('the pod overhead is added', () => {
    expect(podMemoryLimit(pod({ containers: [limited('a', '10Mi')], overhead: { memory: '2Mi' } }))).toBe(12 * MiB);
  });
});

describe('memoryVolumeSize (calculateEmptyDirMemorySize)', () => {
  const unlimited = pod();

  test('no sizeLimit and no pod limit: the node\'s allocatable memory', () => {
    expect(memoryVolumeSize(unlimited, undefined, 64 * MiB)).toBe(64 * MiB);
  });

  test('a sizeLimit below it wins', () => {
    expect(memoryVolumeSize(unlimited, '8Mi', 64 * MiB)).toBe(8 * MiB);
  });

  test('a sizeLimit above it does not', () => {
    expect(memoryVolumeSize(unlimited, '1Gi', 64 * MiB)).toBe(64 * MiB);
  });

  test('a sizeLimit of 0 is no limit', () => {
    expect(memoryVolumeSize(unlimited, '0', 64 * MiB)).toBe(64 * MiB);
  });

  test('the pod\'s memory limit below the allocatable wins over it; a larger sizeLimit does not undo that', () => {
    expect(memoryVolumeSize(pod({ containers: [limited('a', '16Mi')] }), '32Mi', 64 * MiB)).toBe(16 * MiB);
  });

  test('a sizeLimit below the pod\'s memory limit wins', () => {
    expect(memoryVolumeSize(pod({ containers: [limited('a', '16Mi')] }), '4Mi', 64 * MiB)).toBe(4 * MiB);
  });

  test('with the allocatable unknown (0), the sizeLimit still applies', () => {
    expect(memoryVolumeSize(unlimited, '8Mi', 0)).toBe(8 * MiB);
  });

  test('with nothing known, undefined: the kernel\'s default, never size=0 (which is unlimited)', () => {
    expect(memoryVolumeSize(unlimited, undefined, 0)).toBeUndefined();
  });
});
