import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { canonicalJson, fnv128a, hashObject } from '../../../../common/util/hash.js';

describe('fnv128a', () => {
  test('the empty input hashes to the FNV-128 offset basis', () => {
    expect(fnv128a('')).toBe('6c62272e07bb014262b821756295c58d');
  });

  // Vectors computed independently (Python big integers over the same FNV-1a definition).
  test.each([
    ['a', 'd228cb696f1a8caf78912b704e4a8964'],
    ['foobar', '343e1662793c64bf6f0d3597ba446f18'],
  ])('%j hashes to %s', (input, hex) => {
    expect(fnv128a(input)).toBe(hex);
  });

  test('hashes the UTF-8 bytes, not UTF-16 code units', () => {
    expect(fnv128a('é')).toBe('088093bf9eab1be95aa0733054c70821');
  });

  test('agrees bit for bit with FNV-1a computed on 128-bit integers, over random inputs', () => {
    const reference = (bytes: Buffer): string => {
      let hash = 0x6c62272e07bb014262b821756295c58dn;
      for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * 0x0000000001000000000000000000013bn) & ((1n << 128n) - 1n);
      return hash.toString(16).padStart(32, '0');
    };
    for (let length = 0; length < 300; length++) {
      const text = randomBytes(length).toString('base64').slice(0, length) + String.fromCodePoint(0x80 + length * 7);
      expect(fnv128a(text)).toBe(reference(Buffer.from(text, 'utf8')));
    }
  });

  test('is always 32 lowercase hex digits', () => {
    for (const input of ['', 'x', 'a longer input with spaces']) expect(fnv128a(input)).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('canonicalJson', () => {
  test('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
  });

  test('objects that differ only in key order print the same', () => {
    expect(canonicalJson({ x: 1, y: { p: 1, q: 2 } })).toBe(canonicalJson({ y: { q: 2, p: 1 }, x: 1 }));
  });
});

describe('hashObject', () => {
  test('is the first 16 hex digits of fnv128a over the canonical JSON', () => {
    expect(hashObject({ b: 2, a: 1 })).toBe(fnv128a('{"a":1,"b":2}').slice(0, 16));
  });

  test('changes when a value changes', () => {
    expect(hashObject({ image: 'a:1' })).not.toBe(hashObject({ image: 'a:2' }));
  });
});
