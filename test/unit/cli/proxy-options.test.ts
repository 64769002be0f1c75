import { describe, expect, test } from 'vitest';
import { DockerletError } from '../../../common/api/errors.js';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';
import { resolveProxyOptions, type ProxyFlags } from '../../../cli/proxy-options.js';

const context = { rootDir: '/var/lib/dockerlet', podCIDR: parseIpv4Cidr('10.244.0.0/16')!, nodeName: 'node-1' };
const resolve = (flags: ProxyFlags) => resolveProxyOptions({ proxyMode: 'iptables', ...flags }, context);

async function failure(flags: ProxyFlags): Promise<string> {
  const err: unknown = await resolve(flags).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DockerletError)) throw new Error(`expected a DockerletError, got ${String(err)}`);
  expect(err.status).toBe(2);
  return err.message;
}

describe('resolveProxyOptions', () => {
  test('defaults: kube-proxy\'s, with the state under the root dir', async () => {
    expect(await resolve({})).toEqual({
      mode: 'iptables',
      nodeName: 'node-1',
      serviceCIDR: parseIpv4Cidr('10.96.0.0/16'),
      podCIDR: parseIpv4Cidr('10.244.0.0/16'),
      nodePortRange: { min: 30000, max: 32767 },
      stateDir: '/var/lib/dockerlet/proxy',
      syncPeriodMs: 30_000,
      healthzBindAddress: { host: '127.0.0.1', port: 10256 },
      remoteServiceProxy: false,
    });
  });

  test('every flag is taken', async () => {
    expect(
      await resolve({
        proxyMode: 'userspace',
        serviceClusterIpRange: '10.100.0.0/24',
        serviceNodePortRange: '31000-31010',
        healthzBindAddress: '0.0.0.0:0',
        proxySyncPeriod: '1m',
        remoteServiceProxy: true,
      }),
    ).toMatchObject({
      mode: 'userspace',
      serviceCIDR: parseIpv4Cidr('10.100.0.0/24'),
      nodePortRange: { min: 31000, max: 31010 },
      healthzBindAddress: { host: '0.0.0.0', port: 0 },
      syncPeriodMs: 60_000,
      remoteServiceProxy: true,
    });
  });

  test.each([
    [{ proxyMode: 'ipvs' }, '--proxy-mode: invalid value "ipvs": must be iptables or userspace'],
    [{ serviceClusterIpRange: '10.96.0.0' }, '--service-cluster-ip-range: invalid value "10.96.0.0": must be an IPv4 CIDR from /8 to /30, such as 10.96.0.0/16'],
    [{ serviceClusterIpRange: 'fd00::/108' }, '--service-cluster-ip-range: invalid value "fd00::/108": must be an IPv4 CIDR from /8 to /30, such as 10.96.0.0/16'],
    [{ serviceClusterIpRange: '10.0.0.0/4' }, '--service-cluster-ip-range: invalid value "10.0.0.0/4": must be an IPv4 CIDR from /8 to /30, such as 10.96.0.0/16'],
    [{ serviceNodePortRange: '32767-30000' }, '--service-node-port-range: invalid value "32767-30000": must be a port range such as 30000-32767'],
    [{ serviceNodePortRange: '30000' }, '--service-node-port-range: invalid value "30000": must be a port range such as 30000-32767'],
    [{ healthzBindAddress: 'localhost:10256' }, '--healthz-bind-address: invalid value "localhost:10256": must be ip:port, such as 127.0.0.1:10256 (port 0 disables)'],
    [{ healthzBindAddress: '127.0.0.1:70000' }, '--healthz-bind-address: invalid value "127.0.0.1:70000": must be ip:port, such as 127.0.0.1:10256 (port 0 disables)'],
    [{ proxySyncPeriod: '500ms' }, '--proxy-sync-period: invalid value "500ms": must be a duration of at least 1s, such as 30s'],
  ])('%o is refused, naming the flag', async (flags, message) => {
    expect(await failure(flags)).toBe(message);
  });
});
