/**
 * `dockerlet up`'s node from its flags: the agent, and beside it the service proxy with the
 * cluster DNS. A standalone proxy follows the agent (its manifests' Services, its pods); a
 * cluster node's follows the API server, with the node's credentials or --proxy-kubeconfig's.
 * The library's nodes are made the same way, from flags of their own.
 */
import type { Logger } from 'pino';
import { DockerletError } from '../common/api/errors.js';
import { resolveClusterDns } from './dns-options.js';
import type { NodeOptions } from './node.js';
import { resolveAgentOptions, type AgentFlags } from './options.js';
import { resolveProxyOptions, type ProxyFlags } from './proxy-options.js';

export type UpFlags = AgentFlags & ProxyFlags & { proxyKubeconfig?: string };

export interface UpOptions {
  options: NodeOptions & Required<Pick<NodeOptions, 'agent' | 'proxy'>>;
  /** KubeletConfiguration fields dockerlet does not act on. */
  ignoredConfigFields: string[];
}

export async function resolveUpOptions(flags: UpFlags, log: Logger): Promise<UpOptions> {
  const resolved = await resolveAgentOptions(flags);
  const agent = resolved.options;
  if (flags.proxyKubeconfig && !agent.cluster) {
    throw new DockerletError('DKL_ERR_FLAG_INVALID', '--proxy-kubeconfig: only `dockerlet up` with --kubeconfig runs a proxy that reads the API server');
  }
  const proxyOptions = await resolveProxyOptions(flags, { rootDir: agent.rootDir, podCIDR: agent.podCIDR, nodeName: agent.nodeName });
  const dns = await resolveClusterDns(
    {
      ...resolved.clusterDnsSettings,
      serveByDefault: agent.cluster ? 'unless-cluster-dns-elsewhere' : 'always',
      podCIDR: agent.podCIDR,
      serviceCIDR: proxyOptions.serviceCIDR,
      domain: agent.clusterDomain,
      resolvConf: agent.resolvConf,
    },
    log,
  );
  if (dns.server) proxyOptions.clusterDns = dns.server;
  const kubeconfig = flags.proxyKubeconfig ? { path: flags.proxyKubeconfig, flag: '--proxy-kubeconfig' } : { path: agent.cluster?.kubeconfig ?? '', flag: '--kubeconfig' };
  const feed = agent.cluster ? ({ from: 'api', kubeconfig } as const) : ({ from: 'agent' } as const);
  return {
    options: { agent: { ...agent, clusterDNS: dns.clusterDNS }, proxy: { options: proxyOptions, feed } },
    ignoredConfigFields: resolved.ignoredConfigFields,
  };
}
