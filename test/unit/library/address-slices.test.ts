import { describe, expect, test } from 'vitest';
import { cidrCovers, parseIpv4Cidr } from '../../../common/util/ipv4.js';
import { addressSlice, TestServiceRange } from '../../../library/address-slices.js';

describe('addressSlice', () => {
  test('slice k: pods 10.250.k.0/24, services 10.97.k.0/24 inside the guarded range, twenty node ports of its own', () => {
    const slice = addressSlice(5);
    expect([slice.podCIDR.text, slice.serviceCIDR.text, slice.nodePorts]).toEqual(['10.250.5.0/24', '10.97.5.0/24', { min: 30100, max: 30119 }]);
    expect(cidrCovers(parseIpv4Cidr(TestServiceRange)!, slice.serviceCIDR)).toBe(true);
  });

  test('the last slice keeps its node ports inside the default NodePort range; there is none after it', () => {
    expect(addressSlice(127).nodePorts).toEqual({ min: 32540, max: 32559 });
    expect(() => addressSlice(128)).toThrow('address slice 128: must be 0 to 127');
  });
});
