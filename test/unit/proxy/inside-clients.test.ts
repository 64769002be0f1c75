import { describe, expect, test } from 'vitest';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';
import { HostAddressesRefreshMs, insideClients } from '../../../proxy/datapath/userspace/inside-clients.js';

/** A host whose addresses a test changes, counting how often they are read, on a clock it moves. */
function fakeHost(addresses: string[]) {
  const host = { addresses, reads: 0, now: 0 };
  const isInside = insideClients({
    podCIDR: parseIpv4Cidr('10.244.0.0/24')!,
    hostAddresses: () => {
      host.reads++;
      return host.addresses;
    },
    clock: { now: () => host.now },
  });
  return { host, isInside };
}

describe('insideClients', () => {
  test("the node's own addresses, loopback and the pod CIDR are inside; other addresses, other nodes' pods too, are outside", () => {
    const { isInside } = fakeHost(['192.0.2.2', '172.17.0.1']);
    for (const inside of ['192.0.2.2', '172.17.0.1', '127.0.0.1', '127.9.9.9', '10.244.0.7', '::ffff:10.244.0.7', '::ffff:192.0.2.2']) expect(isInside(inside), inside).toBe(true);
    for (const outside of ['192.0.2.3', '172.17.0.2', '10.244.1.7', '::ffff:198.51.100.1']) expect(isInside(outside), outside).toBe(false);
  });

  test('an address the host took since is inside once a second has passed since the last read, and outside clients cost one read a second at most', () => {
    const { host, isInside } = fakeHost(['192.0.2.2']);
    expect(host.reads).toBe(1);
    host.addresses = ['192.0.2.2', '198.51.100.9'];
    expect(isInside('198.51.100.9')).toBe(false);
    expect(host.reads).toBe(1);
    host.now += HostAddressesRefreshMs;
    expect(isInside('198.51.100.9')).toBe(true);
    expect(host.reads).toBe(2);
    for (let i = 0; i < 10; i++) expect(isInside('203.0.113.1')).toBe(false);
    expect(isInside('192.0.2.2')).toBe(true);
    expect(host.reads).toBe(2);
  });
});
