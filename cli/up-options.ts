/**
 * `dockerlet up`'s node from its flags: the agent, and beside it the service proxy with the
 * cluster DNS. A standalone proxy follows the agent (its manifests' Services, its pods); a
 * cluster node's follows the API server, with the node's credentials or --proxy-kubeconfig's.
 * The library's nodes are made the same way, from flags of their own.
 */
import type { Logger } from 'pino';
import { DockerletError } from '../common/api/errors.js';
import type { Ipv4Cidr } from '../common/util/ipv4.js';
import { resolveClusterDns, type ClusterDnsDecision } from './dns-options.js';
import type { NodeOptions } from './node.js';
import { Defaults, resolveAgentOptions, type AgentFlags } from './options.js';
import { resolveProxyOptions, type ProxyFlags } from './proxy-options.js';
import { boolean, ipv4CidrSetting, setting, type Setting } from './settings.js';

export type UpFlags = AgentFlags & ProxyFlags & { proxyKubeconfig?: string; clusterCidr?: string };

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
  const proxyOptions = await resolveProxyOptions(flags, { rootDir: agent.rootDir, podCIDR: clusterCidr(flags, agent.podCIDR), nodeName: agent.nodeName });
  const dnsInputs = {
    ...resolved.clusterDnsSettings,
    serveByDefault: agent.cluster ? 'unless-cluster-dns-elsewhere' : 'always',
    serviceCIDR: proxyOptions.serviceCIDR,
    domain: agent.clusterDomain,
    resolvConf: agent.resolvConf,
  } as const;
  const dns = agent.podCIDR ? await resolveClusterDns({ ...dnsInputs, podCIDR: agent.podCIDR }, log) : noClusterDnsServer(dnsInputs.serve, dnsInputs.clusterDNS.value, log);
  if (dns.server) proxyOptions.clusterDns = dns.server;
  const kubeconfig = flags.proxyKubeconfig ? { path: flags.proxyKubeconfig, flag: '--proxy-kubeconfig' } : { path: agent.cluster?.kubeconfig ?? '', flag: '--kubeconfig' };
  const feed = agent.cluster ? ({ from: 'api', kubeconfig } as const) : ({ from: 'agent' } as const);
  return {
    options: { agent: { ...agent, clusterDNS: dns.clusterDNS }, proxy: { options: proxyOptions, feed } },
    ignoredConfigFields: resolved.ignoredConfigFields,
  };
}

/** The proxy's --cluster-cidr: the cluster's pod range, by default this node's own subnet (a node alone is its cluster). */
function clusterCidr(flags: UpFlags, podCIDR: Ipv4Cidr | undefined): Ipv4Cidr {
  if (flags.clusterCidr !== undefined) return ipv4CidrSetting(setting({ flag: '--cluster-cidr', flagValue: flags.clusterCidr }, ''), Defaults.podCIDR);
  if (podCIDR) return podCIDR;
  throw new DockerletError('DKL_ERR_FLAG_INVALID', "--pod-cidr-from-node: the proxy needs the cluster's pod range, which no flag gives yet: add --cluster-cidr, as the controller manager's");
}

/**
 * A node that takes its subnet from its Node does not know, when it starts, the gateway the
 * cluster DNS would answer on: it serves none, and its pods use the clusterDNS given.
 */
function noClusterDnsServer(serve: Setting<string | boolean | undefined>, clusterDNS: readonly string[], log: Logger): ClusterDnsDecision {
  if (serve.value !== undefined && boolean(serve as Setting<string | boolean>)) {
    throw serve.invalid("the cluster DNS answers on the pod bridge's gateway, unknown until the Node has its subnet (--pod-cidr-from-node): give the node a --pod-cidr, or run the cluster's DNS and give its address with --cluster-dns");
  }
  if (clusterDNS.length === 0) log.warn("not serving the cluster DNS (--pod-cidr-from-node) and no --cluster-dns given: ClusterFirst pods get the host's resolvers, and no cluster names");
  else if (serve.value === undefined) log.info({ clusterDNS }, "not serving the cluster DNS: with --pod-cidr-from-node, pods use --cluster-dns (the cluster's own DNS)");
  return { clusterDNS };
}
