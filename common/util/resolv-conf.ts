/**
 * The host's resolv.conf, as the kubelet reads it (parseResolvConf in pkg/kubelet/network/dns),
 * for the pods that take the node's resolvers (the agent) and for the names the cluster DNS
 * forwards (the proxy).
 */
import { readFile } from 'node:fs/promises';

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/** Where systemd-resolved lists the servers its loopback stub (127.0.0.53) forwards to. */
export const SystemdResolvedUpstreams = '/run/systemd/resolve/resolv.conf';

/**
 * Nameservers accumulate; the last `search` line wins, its domains without a trailing dot and
 * without "."; `options` accumulate, a later option replacing an earlier one of the same name;
 * lines that start with "#" and other keywords (`domain` included) are ignored.
 */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    const [keyword, ...values] = line.split(/\s+/);
    if (keyword === 'nameserver' && values[0]) conf.nameservers.push(values[0]);
    else if (keyword === 'search') conf.searches = values.filter((s) => s !== '.').map((s) => s.replace(/\.$/, ''));
    else if (keyword === 'options') conf.options = mergeResolverOptions(conf.options, values);
  }
  return conf;
}

/** `options` entries merged by name ("ndots:5"'s name is "ndots"); a later one replaces an earlier one in place. */
export function mergeResolverOptions(existing: readonly string[], added: readonly string[]): string[] {
  const byName = new Map(existing.map((option) => [option.split(':')[0]!, option]));
  for (const option of added) byName.set(option.split(':')[0]!, option);
  return [...byName.values()];
}

/** systemd-resolved's loopback stubs: 127.0.0.53, and 127.0.0.54 (its proxy-only stub). */
const isResolvedStub = (address: string): boolean => address === '127.0.0.53' || address === '127.0.0.54';
const isLoopback = (address: string): boolean => address.startsWith('127.') || address === '::1';

export interface HostResolvConf {
  conf: ResolvConf;
  /** The file the nameservers came from: `path`, or systemd-resolved's list when `path` named only its loopback stub. */
  from: string;
}

/**
 * The host's resolvers from `path` (an unreadable file reads as empty, as the kubelet's does).
 * When its only nameserver is systemd-resolved's stub and systemd-resolved lists real servers,
 * those are taken instead (kubeadm points the kubelet's resolvConf at that list for the same
 * reason): a pod cannot reach the host's loopback. Any other loopback resolver is kept as it is.
 */
export async function readHostResolvConf(path: string, upstreamsOfStub = SystemdResolvedUpstreams): Promise<HostResolvConf> {
  const conf = parseResolvConf(await readFile(path, 'utf8').catch(() => ''));
  if (conf.nameservers.length === 0 || !conf.nameservers.every(isResolvedStub)) return { conf, from: path };
  const upstream = parseResolvConf(await readFile(upstreamsOfStub, 'utf8').catch(() => ''));
  const servers = upstream.nameservers.filter((server) => !isLoopback(server));
  return servers.length > 0 ? { conf: { ...upstream, nameservers: servers }, from: upstreamsOfStub } : { conf, from: path };
}
