import { describe, expect, test } from 'vitest';
import { milliCpu, parseQuantity } from '../../../../common/api/quantity.js';

describe('parseQuantity', () => {
  test.each([
    ['500m', 0.5],
    ['2', 2],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['128Mi', 134_217_728],
    ['1Ki', 1024],
    ['1Gi', 1_073_741_824],
    ['1G', 1e9],
    ['1k', 1000],
    ['1M', 1e6],
    ['1E', 1e18],
    ['1e3', 1000],
    ['1E3', 1000],
    ['5e-1', 0.5],
    ['100u', 1e-4],
    ['-1', -1],
    [' 64Mi ', 67_108_864],
  ])('%j is %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 12);
  });

  test('a number is taken as it is', () => {
    expect(parseQuantity(3)).toBe(3);
  });

  test.each(['', 'abc', '1KB', '1mi', 'Mi', '1e', '1.2.3'])('%j is not a quantity', (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });

  test('a non-finite number is not a quantity', () => {
    expect(parseQuantity(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('milliCpu', () => {
  test.each([
    ['1', 1000],
    ['250m', 250],
    ['0.1', 100],
    ['1.5', 1500],
    [2, 2000],
  ])('%j is %d millicores', (text, milli) => {
    expect(milliCpu(text)).toBe(milli);
  });

  test('rounds a sub-millicore value up, as Quantity.MilliValue does', () => {
    expect(milliCpu('100u')).toBe(1);
    expect(milliCpu('1500u')).toBe(2);
  });

  test('is undefined for what is not a quantity', () => {
    expect(milliCpu('lots')).toBeUndefined();
  });
});
