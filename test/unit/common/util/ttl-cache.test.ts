import { describe, expect, test } from 'vitest';
import { TtlCache } from '../../../../common/util/ttl-cache.js';

describe('TtlCache', () => {
  test('entries expire after their TTL; past maxEntries the oldest goes first; a TTL of 0 keeps nothing', () => {
    let now = 0;
    const cache = new TtlCache<string>({ maxEntries: 2, now: () => now });
    cache.set('a', 'A', 100);
    cache.set('b', 'B', 100);
    cache.set('c', 'C', 100);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, 'B', 'C']);
    cache.set('zero', 'Z', 0);
    expect(cache.get('zero')).toBeUndefined();
    now = 100;
    expect(cache.get('b')).toBeUndefined();
  });
});
