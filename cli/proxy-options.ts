/**
 * The proxy's flags (kube-proxy's names where it has one) -> ProxyOptions. Every bad value is an
 * error that names the flag. The service CIDR must be the one the host's guard protects
 * (scripts/setup-host.sh, DOCKERLET_SERVICE_CIDR): the guard is what keeps service traffic on
 * this machine whatever the proxy does.
 */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseDuration } from '../common/util/duration.js';
import type { Ipv4Cidr } from '../common/util/ipv4.js';
import type { ProxyMode } from '../proxy/datapath/proxier.js';
import type { ProxyOptions } from '../proxy/proxy.js';
import { flagError, ipv4CidrSetting, setting } from './settings.js';

export interface ProxyFlags {
  proxyMode?: string;
  serviceClusterIpRange?: string;
  serviceNodePortRange?: string;
  healthzBindAddress?: string;
  proxySyncPeriod?: string;
  remoteServiceProxy?: boolean;
}

export const ProxyDefaults = {
  serviceClusterIpRange: '10.96.0.0/16',
  serviceNodePortRange: '30000-32767',
  healthzBindAddress: '127.0.0.1:10256',
  proxySyncPeriod: '30s',
} as const;

/** The kernel datapath when iptables answers here, the userspace one otherwise. */
async function defaultMode(): Promise<ProxyMode> {
  try {
    await promisify(execFile)('iptables', ['--version']);
    return 'iptables';
  } catch {
    return 'userspace';
  }
}

export async function resolveProxyOptions(
  flags: ProxyFlags,
  context: { rootDir: string; podCIDR: Ipv4Cidr; nodeName?: string },
): Promise<ProxyOptions> {
  const mode = flags.proxyMode ?? (await defaultMode());
  if (mode !== 'iptables' && mode !== 'userspace') throw flagError('--proxy-mode', mode, 'must be iptables or userspace');
  const serviceCIDR = ipv4CidrSetting(setting({ flag: '--service-cluster-ip-range', flagValue: flags.serviceClusterIpRange }, ProxyDefaults.serviceClusterIpRange as string), ProxyDefaults.serviceClusterIpRange);
  const range = flags.serviceNodePortRange ?? ProxyDefaults.serviceNodePortRange;
  const ports = /^(\d+)-(\d+)$/.exec(range);
  const [min, max] = ports ? [Number(ports[1]), Number(ports[2])] : [NaN, NaN];
  if (!ports || min < 1 || max > 65535 || min > max) throw flagError('--service-node-port-range', range, 'must be a port range such as 30000-32767');
  const bind = flags.healthzBindAddress ?? ProxyDefaults.healthzBindAddress;
  const address = /^(.+):(\d+)$/.exec(bind);
  if (!address || isIP(address[1]!) === 0 || Number(address[2]) > 65535) throw flagError('--healthz-bind-address', bind, 'must be ip:port, such as 127.0.0.1:10256 (port 0 disables)');
  const period = flags.proxySyncPeriod ?? ProxyDefaults.proxySyncPeriod;
  const syncPeriodMs = parseDuration(period);
  if (syncPeriodMs === undefined || syncPeriodMs < 1000) throw flagError('--proxy-sync-period', period, 'must be a duration of at least 1s, such as 30s');
  return {
    mode,
    ...(context.nodeName ? { nodeName: context.nodeName } : {}),
    serviceCIDR,
    podCIDR: context.podCIDR,
    nodePortRange: { min, max },
    stateDir: join(context.rootDir, 'proxy'),
    syncPeriodMs,
    healthzBindAddress: { host: address[1]!, port: Number(address[2]) },
    remoteServiceProxy: flags.remoteServiceProxy === true,
  };
}
