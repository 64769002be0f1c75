import { describe, expect, test } from 'vitest';
import { isValidImageReference } from '../../../../agent/images/image-reference.js';

const digest = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

describe('isValidImageReference (distribution/reference grammar)', () => {
  test.each([
    'busybox',
    'busybox:1.35',
    'library/busybox:latest',
    'dockerlet.local/busybox:1.35',
    'localhost:5000/team/app:v1.2.3',
    'registry.example.com/a/b/c',
    `busybox@${digest}`,
    `busybox:1.35@${digest}`,
    'my_app__x.y-z:tag_1.0-rc',
    'Registry.Example.com/app',
  ])('%s is valid', (image) => {
    expect(isValidImageReference(image)).toBe(true);
  });

  test.each([
    '',
    'Busybox',
    'busybox:',
    'busybox:-tag',
    ':tag',
    'busybox@sha256:abc',
    'bad image',
    'app/',
    'app//x',
    `busybox:${'t'.repeat(129)}`,
    '-app',
  ])('%j is not', (image) => {
    expect(isValidImageReference(image)).toBe(false);
  });
});
