/**
 * A pod's resolv.conf from its dnsPolicy and dnsConfig (pkg/kubelet/network/dns). Without a
 * cluster DNS server, ClusterFirst falls back to the node's own resolvers, as the kubelet does.
 */
import type { DefaultedPod } from '../../common/api/types.js';
import { mergeResolverOptions, type ResolvConf } from '../../common/util/resolv-conf.js';

export interface ClusterDns {
  /** --cluster-dns; empty when the node has no cluster DNS. */
  servers: readonly string[];
  /** --cluster-domain. */
  domain: string;
}

/** The API's limits on a pod's DNS config (MaxDNSNameservers, MaxDNSSearchPaths, MaxDNSSearchListChars). */
const MaxNameservers = 3;
const MaxSearchPaths = 32;
const MaxSearchListChars = 2048;
const MaxSearchPathChars = 253;

/** Whether the pod uses the cluster's DNS, given what the node has (the kubelet's getPodDNSType). */
function usesClusterDns(pod: DefaultedPod, cluster: ClusterDns): boolean {
  const policy = pod.spec.dnsPolicy ?? 'ClusterFirst';
  if (cluster.servers.length === 0) return false;
  if (policy === 'ClusterFirstWithHostNet') return true;
  return policy === 'ClusterFirst' && pod.spec.hostNetwork !== true;
}

/** GetPodDNS: the base for the pod's policy, plus spec.dnsConfig, cut to the API's limits. */
export function podResolvConf(pod: DefaultedPod, host: ResolvConf, cluster: ClusterDns): ResolvConf {
  let conf: ResolvConf;
  if (pod.spec.dnsPolicy === 'None') {
    conf = { nameservers: [], searches: [], options: [] };
  } else if (usesClusterDns(pod, cluster)) {
    const namespace = pod.metadata.namespace;
    const clusterSearches = cluster.domain ? [`${namespace}.svc.${cluster.domain}`, `svc.${cluster.domain}`, cluster.domain] : [];
    conf = {
      nameservers: [...cluster.servers],
      searches: unique([...clusterSearches, ...host.searches]),
      options: ['ndots:5'],
    };
  } else {
    conf = { nameservers: [...host.nameservers], searches: [...host.searches], options: [...host.options] };
  }
  const extra = pod.spec.dnsConfig;
  if (extra) {
    conf.nameservers = unique([...conf.nameservers, ...(extra.nameservers ?? [])]);
    conf.searches = unique([...conf.searches, ...(extra.searches ?? [])]);
    conf.options = mergeResolverOptions(
      conf.options,
      (extra.options ?? []).map((option) => (option.value !== undefined ? `${option.name}:${option.value}` : option.name!)),
    );
  }
  conf.nameservers = conf.nameservers.slice(0, MaxNameservers);
  conf.searches = fitSearches(conf.searches);
  return conf;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** formDNSSearchFitsLimits: at most 32 paths, none longer than 253 characters, 2048 characters in all. */
function fitSearches(searches: readonly string[]): string[] {
  const fitted = searches.slice(0, MaxSearchPaths).filter((search) => search.length <= MaxSearchPathChars);
  while (fitted.length > 0 && fitted.join(' ').length > MaxSearchListChars) fitted.pop();
  return fitted;
}

export function formatResolvConf(conf: ResolvConf): string {
  let text = '';
  for (const server of conf.nameservers) text += `nameserver ${server}\n`;
  if (conf.searches.length > 0) text += `search ${conf.searches.join(' ')}\n`;
  if (conf.options.length > 0) text += `options ${conf.options.join(' ')}\n`;
  return text;
}
