/** IpRouteTable reading `ip -j` output: which routes are this agent's, which are someone else's, and this host's addresses. */
import { describe, expect, test } from 'vitest';
import { IpRouteTable } from '../../../../agent/network/ip-route-table.js';

/** `ip` as a function of its arguments, answering the three questions read() asks. */
function fakeIp(answers: { own: unknown[]; all: unknown[]; addresses: unknown[] }, calls: string[] = []) {
  return async (args: readonly string[]): Promise<string> => {
    calls.push(args.join(' '));
    if (args.includes('address')) return JSON.stringify(answers.addresses);
    return JSON.stringify(args.includes('proto') ? answers.own : answers.all);
  };
}

describe('IpRouteTable.read', () => {
  test("the agent's routes by protocol number, everyone else's but the default route, host routes with their /32, and the host's IPv4 addresses", async () => {
    const own = [
      { dst: '10.244.1.0/24', gateway: '192.168.50.11', dev: 'eth0', protocol: 'dockerlet', flags: [] },
      { dst: '10.244.2.0/24', dev: 'eth0', protocol: 'dockerlet', flags: [] },
    ];
    const all = [
      { dst: 'default', gateway: '192.168.50.1', dev: 'eth0', flags: [] },
      ...own,
      { dst: '192.168.50.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '192.168.50.10', flags: [] },
      { dst: '10.9.9.9', gateway: '192.168.50.1', dev: 'eth0', flags: [] },
      // Someone else's route to one of the agent's destinations, at another metric.
      { dst: '10.244.1.0/24', gateway: '192.168.50.1', dev: 'eth0', metric: 100, flags: [] },
    ];
    const addresses = [
      { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
      { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.50.10', prefixlen: 24 }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }] },
    ];
    const calls: string[] = [];
    expect(await new IpRouteTable(fakeIp({ own, all, addresses }, calls)).read()).toEqual({
      // Named in rt_protos or not, the kernel matched them by number; one without a gateway is still the agent's, to be replaced.
      own: [
        { destination: '10.244.1.0/24', gateway: '192.168.50.11' },
        { destination: '10.244.2.0/24', gateway: '' },
      ],
      foreign: [
        { destination: '192.168.50.0/24', onLink: true },
        { destination: '10.9.9.9/32', onLink: false },
        { destination: '10.244.1.0/24', onLink: false },
      ],
      localAddresses: ['127.0.0.1', '192.168.50.10'],
    });
    expect(calls).toContain('-j -4 route show table main proto 209');
  });

  test('output that is not JSON names the command', async () => {
    await expect(new IpRouteTable(async () => 'Usage: ip route ...').read()).rejects.toThrow('`ip -j -4 route show table main proto 209` printed no JSON (iproute2 too old?)');
  });
});
