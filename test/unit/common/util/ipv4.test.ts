import { expect, test } from 'vitest';
import { firstAddress, parseIpv4Cidr } from '../../../../common/util/ipv4.js';

test("a CIDR's first address: the pod bridge's gateway", () => {
  expect(firstAddress(parseIpv4Cidr('10.244.0.0/16')!)).toBe('10.244.0.1');
  expect(firstAddress(parseIpv4Cidr('172.20.8.0/22')!)).toBe('172.20.8.1');
});
