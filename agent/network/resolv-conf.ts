/**
 * A pod's resolv.conf from its dnsPolicy and dnsConfig (pkg/kubelet/network/dns). Without a
 * cluster DNS server, ClusterFirst falls back to the node's own resolvers, as the kubelet does.
 */
import type { DefaultedPod } from '../api/types.js';

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

export interface ClusterDns {
  /** --cluster-dns; empty when the node has no cluster DNS. */
  servers: readonly string[];
  /** --cluster-domain. */
  domain: string;
}

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...values] = line.split(/\s+/);
    if (keyword === 'nameserver' && values[0]) conf.nameservers.push(values[0]);
    else if (keyword === 'search' || keyword === 'domain') conf.searches = values;
    else if (keyword === 'options') conf.options.push(...values);
  }
  return conf;
}

/** Whether the pod uses the cluster's DNS, given what the node has (the kubelet's getPodDNSType). */
function usesClusterDns(pod: DefaultedPod, cluster: ClusterDns): boolean {
  const policy = pod.spec.dnsPolicy ?? 'ClusterFirst';
  if (cluster.servers.length === 0) return false;
  if (policy === 'ClusterFirstWithHostNet') return true;
  return policy === 'ClusterFirst' && pod.spec.hostNetwork !== true;
}

export function podResolvConf(pod: DefaultedPod, host: ResolvConf, cluster: ClusterDns): ResolvConf {
  let conf: ResolvConf;
  if (pod.spec.dnsPolicy === 'None') {
    conf = { nameservers: [], searches: [], options: [] };
  } else if (usesClusterDns(pod, cluster)) {
    const namespace = pod.metadata.namespace;
    conf = {
      nameservers: [...cluster.servers],
      searches: [`${namespace}.svc.${cluster.domain}`, `svc.${cluster.domain}`, cluster.domain, ...host.searches],
      options: ['ndots:5'],
    };
  } else {
    conf = { nameservers: [...host.nameservers], searches: [...host.searches], options: [...host.options] };
  }
  const extra = pod.spec.dnsConfig;
  if (extra) {
    conf.nameservers = [...new Set([...conf.nameservers, ...(extra.nameservers ?? [])])].slice(0, 3);
    conf.searches = [...new Set([...conf.searches, ...(extra.searches ?? [])])].slice(0, 32);
    const options = new Map(conf.options.map((option) => [option.split(':')[0]!, option]));
    for (const option of extra.options ?? []) options.set(option.name!, option.value !== undefined ? `${option.name}:${option.value}` : option.name!);
    conf.options = [...options.values()];
  }
  return conf;
}

export function formatResolvConf(conf: ResolvConf): string {
  let text = '';
  for (const server of conf.nameservers) text += `nameserver ${server}\n`;
  if (conf.searches.length > 0) text += `search ${conf.searches.join(' ')}\n`;
  if (conf.options.length > 0) text += `options ${conf.options.join(' ')}\n`;
  return text;
}
