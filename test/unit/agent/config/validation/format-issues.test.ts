import { describe, expect, test } from 'vitest';
import { fieldPath } from '../../../../../agent/config/validation/format-issues.js';

describe('fieldPath', () => {
  test('joins names with dots and indexes with brackets, as the API server prints paths', () => {
    expect(fieldPath(['spec', 'containers', 0, 'ports', 1, 'containerPort'])).toBe('spec.containers[0].ports[1].containerPort');
  });

  test('puts a map key that is not an identifier in brackets', () => {
    expect(fieldPath(['metadata', 'labels', 'app.kubernetes.io/name'])).toBe('metadata.labels[app.kubernetes.io/name]');
  });

  test('an empty path is the empty string', () => {
    expect(fieldPath([])).toBe('');
  });
});
