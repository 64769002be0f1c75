import { describe, expect, test } from 'vitest';
import { isLoopbackAddress, isProxyableIp } from '../../../../common/util/special-addresses.js';

describe('isLoopbackAddress', () => {
  test.each(['localhost', '127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1'])('%s is loopback', (address) => {
    expect(isLoopbackAddress(address)).toBe(true);
  });
  test.each(['10.0.0.1', '0.0.0.0', '::', '::ffff:10.0.0.1', 'localhost.example', '128.0.0.1', ''])('%s is not', (address) => {
    expect(isLoopbackAddress(address)).toBe(false);
  });
});

describe('isProxyableIp (the API server\'s IsProxyableIP)', () => {
  test.each(['127.0.0.1', '127.9.9.9', '169.254.169.254', '169.254.0.1', '224.0.0.251', '::1', 'fe80::1', 'ff02::1', '::ffff:169.254.169.254', 'pod-a', ''])(
    '%s may not be proxied to',
    (ip) => expect(isProxyableIp(ip)).toBe(false),
  );
  test.each(['10.244.0.5', '172.17.0.2', '192.168.1.1', '224.0.1.1', '169.253.255.255', '2001:db8::1'])('%s may', (ip) => {
    expect(isProxyableIp(ip)).toBe(true);
  });
});
