import { describe, expect, test } from 'vitest';
import { toleratesTaint } from '../../../../common/api/tolerations.js';

const taint = { key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' } as const;

describe('toleratesTaint', () => {
  test('by key with Exists, by key and value with Equal, and everything with an empty key and Exists', () => {
    expect(toleratesTaint([{ key: taint.key, operator: 'Exists' }], taint)).toBe(true);
    expect(toleratesTaint([{ key: taint.key, operator: 'Equal', value: '', effect: 'NoSchedule' }], taint)).toBe(true);
    expect(toleratesTaint([{ key: taint.key, value: '' }], taint)).toBe(true);
    expect(toleratesTaint([{ operator: 'Exists' }], taint)).toBe(true);
  });

  test('another effect, another key, another value, or an empty key without Exists do not', () => {
    expect(toleratesTaint([{ key: taint.key, operator: 'Exists', effect: 'NoExecute' }], taint)).toBe(false);
    expect(toleratesTaint([{ key: 'node.kubernetes.io/disk-pressure', operator: 'Exists' }], taint)).toBe(false);
    expect(toleratesTaint([{ key: taint.key, operator: 'Equal', value: 'yes' }], taint)).toBe(false);
    expect(toleratesTaint([{ operator: 'Equal' }], taint)).toBe(false);
    expect(toleratesTaint(undefined, taint)).toBe(false);
  });
});
