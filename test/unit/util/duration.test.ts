import { describe, expect, test } from 'vitest';
import { parseDuration } from '../../../agent/util/duration.js';

describe('parseDuration (Go time.ParseDuration)', () => {
  test.each([
    ['20s', 20_000],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['.5s', 500],
    ['1.s', 1_000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['2000000ns', 2],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test('a bare 0 is zero, as in Go', () => {
    expect(parseDuration('0')).toBe(0);
  });

  test.each(['', '10', '1x', 's', '1m 30s', '-', '1d', 'm1'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
