/**
 * IpAddressManager: argument building and output parsing against a fake `ip` (the real one is
 * exercised in test/integration/userspace-address-manager.test.ts).
 */
import { describe, expect, test } from 'vitest';
import { IpAddressManager, type IpRunner } from '../../../proxy/datapath/userspace/address-manager.js';
import { cidrContains, parseIpv4Cidr } from '../../../common/util/ipv4.js';

const loJson = (addresses: { local: string; prefixlen: number }[]): string =>
  JSON.stringify([{ ifindex: 1, ifname: 'lo', addr_info: addresses.map((address) => ({ family: 'inet', scope: 'global', ...address })) }]);

describe('IpAddressManager with a fake ip', () => {
  test('lists only the /32 addresses', async () => {
    const run: IpRunner = async () => loJson([{ local: '127.0.0.1', prefixlen: 8 }, { local: '10.96.0.10', prefixlen: 32 }]);
    expect(await new IpAddressManager({ run }).list()).toEqual(['10.96.0.10']);
  });

  test('adds and removes with ip addr add/del on lo, in the netns when told', async () => {
    const calls: string[] = [];
    const run: IpRunner = async (args) => {
      calls.push(args.join(' '));
      return '';
    };
    const manager = new IpAddressManager({ run, netns: 'ns1' });
    await manager.add('10.96.0.10');
    await manager.remove('10.96.0.10');
    expect(calls).toEqual(['-n ns1 addr add 10.96.0.10/32 dev lo', '-n ns1 addr del 10.96.0.10/32 dev lo']);
  });

  test('adding an address already there and removing one already gone succeed', async () => {
    const present = ['10.96.0.10'];
    const run: IpRunner = async (args) => {
      if (args.includes('-j')) return loJson(present.map((local) => ({ local, prefixlen: 32 })));
      throw Object.assign(new Error('exit 2'), { stderr: 'Error: ipv4: Address already assigned.\n' });
    };
    const manager = new IpAddressManager({ run });
    await manager.add('10.96.0.10');
    await manager.remove('10.96.0.11');
  });

  test('a failure is a coded error naming the command and what ip said', async () => {
    const run: IpRunner = async (args) => {
      if (args.includes('-j')) return loJson([]);
      throw Object.assign(new Error('exit 2'), { stderr: 'RTNETLINK answers: Operation not permitted\n' });
    };
    await expect(new IpAddressManager({ run }).add('10.96.0.10')).rejects.toMatchObject({
      code: 'DKL_ERR_RUNTIME',
      message: expect.stringMatching(/ip addr add 10\.96\.0\.10\/32 dev lo.*Operation not permitted/),
    });
  });
});

describe('ipv4 helpers', () => {
  test('CIDRs are normalised and contain what they should', () => {
    const cidr = parseIpv4Cidr('10.100.7.9/12')!;
    expect(cidr.text).toBe('10.96.0.0/12');
    expect(cidrContains(cidr, '10.111.255.255')).toBe(true);
    expect(cidrContains(cidr, '10.112.0.0')).toBe(false);
    expect(cidrContains(parseIpv4Cidr('0.0.0.0/0')!, '192.168.1.1')).toBe(true);
    expect(cidrContains(parseIpv4Cidr('10.96.0.10/32')!, '10.96.0.10')).toBe(true);
    expect(parseIpv4Cidr('10.96.0.0/33')).toBeUndefined();
    expect(parseIpv4Cidr('10.96.0/12')).toBeUndefined();
    expect(parseIpv4Cidr('fd00::/108')).toBeUndefined();
    expect(cidrContains(cidr, 'not-an-ip')).toBe(false);
  });
});
