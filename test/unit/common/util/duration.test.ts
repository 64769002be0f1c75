import { describe, expect, test } from 'vitest';
import { formatDuration, parseDuration } from '../../../../common/util/duration.js';

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

describe('formatDuration (Go time.Duration printing)', () => {
  test.each([
    [0, '0s'],
    [10_000, '10s'],
    [59_000, '59s'],
    [60_000, '1m0s'],
    [80_000, '1m20s'],
    [160_000, '2m40s'],
    [300_000, '5m0s'],
    [500, '500ms'],
    [2_500, '2.5s'],
    [1_250, '1.25s'],
    [61_500, '1m1.5s'],
    [3_723_500, '1h2m3.5s'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
