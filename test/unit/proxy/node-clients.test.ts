import { describe, expect, test } from 'vitest';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';
import { HostAddressesRefreshMs, nodeClients } from '../../../proxy/node-clients.js';

/** A host whose addresses a test changes, counting how often they are read, on a clock it moves. */
function fakeHost(addresses: string[], networks = ['10.244.0.0/24']) {
  const host = { addresses, reads: 0, now: 0 };
  const isNodeClient = nodeClients({
    networks: networks.map((cidr) => parseIpv4Cidr(cidr)!),
    hostAddresses: () => {
      host.reads++;
      return host.addresses;
    },
    clock: { now: () => host.now },
  });
  return { host, isNodeClient };
}

describe('nodeClients', () => {
  test("the node's own addresses, loopback and the networks are the node's; other addresses, other nodes' pods too, are not", () => {
    const { isNodeClient } = fakeHost(['192.0.2.2', '172.17.0.1']);
    for (const inside of ['192.0.2.2', '172.17.0.1', '127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '10.244.0.7', '::ffff:10.244.0.7', '::ffff:192.0.2.2']) expect(isNodeClient(inside), inside).toBe(true);
    for (const outside of ['192.0.2.3', '172.17.0.2', '10.244.1.7', '::ffff:198.51.100.1', '::2', '128.0.0.1']) expect(isNodeClient(outside), outside).toBe(false);
  });

  test('a client in any of several networks is the node\'s; with no networks, only the node itself is', () => {
    const several = fakeHost(['192.0.2.2'], ['10.244.0.0/24', '10.245.0.0/16']).isNodeClient;
    for (const inside of ['10.244.0.7', '10.245.3.7']) expect(several(inside), inside).toBe(true);
    expect(several('10.246.0.1')).toBe(false);
    const none = fakeHost(['192.0.2.2'], []).isNodeClient;
    expect(none('192.0.2.2')).toBe(true);
    expect(none('10.244.0.7')).toBe(false);
  });

  test('an address the host took since is the node\'s once a second has passed since the last read, and outside clients cost one read a second at most', () => {
    const { host, isNodeClient } = fakeHost(['192.0.2.2']);
    expect(host.reads).toBe(1);
    host.addresses = ['192.0.2.2', '198.51.100.9'];
    expect(isNodeClient('198.51.100.9')).toBe(false);
    expect(host.reads).toBe(1);
    host.now += HostAddressesRefreshMs;
    expect(isNodeClient('198.51.100.9')).toBe(true);
    expect(host.reads).toBe(2);
    for (let i = 0; i < 10; i++) expect(isNodeClient('203.0.113.1')).toBe(false);
    expect(isNodeClient('192.0.2.2')).toBe(true);
    expect(host.reads).toBe(2);
  });
});
