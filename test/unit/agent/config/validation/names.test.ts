import { describe, expect, test } from 'vitest';
import { dnsLabel, isQualifiedName, portName } from '../../../../../agent/config/validation/names.js';

describe('isQualifiedName (label and annotation keys)', () => {
  test.each(['app', 'app.kubernetes.io/name', 'example.com/a_b-c.d', 'A1'])('%j is a qualified name', (key) => {
    expect(isQualifiedName(key)).toBe(true);
  });

  test.each(['', '-app', 'app-', '/name', 'Example.com/name', `${'a'.repeat(64)}`, 'a/b/c'])('%j is not', (key) => {
    expect(isQualifiedName(key)).toBe(false);
  });
});

describe('dnsLabel', () => {
  test.each(['a', 'web-1', '0abc', 'a'.repeat(63)])('%j is a DNS label', (name) => {
    expect(dnsLabel.safeParse(name).success).toBe(true);
  });

  test.each(['', 'Web', 'web_1', '-web', 'web-', 'a.b', 'a'.repeat(64)])('%j is not', (name) => {
    expect(dnsLabel.safeParse(name).success).toBe(false);
  });
});

describe('portName (IANA_SVC_NAME)', () => {
  test.each(['http', 'web-8080', 'a1'])('%j is a port name', (name) => {
    expect(portName.safeParse(name).success).toBe(true);
  });

  test.each(['8080', 'a--b', 'HTTP', '-http', 'a'.repeat(16)])('%j is not', (name) => {
    expect(portName.safeParse(name).success).toBe(false);
  });
});
