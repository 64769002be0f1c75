/**
 * Whether this node serves the cluster DNS, where, and what its pods are told (clusterDNS).
 * dockerlet's DNS server listens on the pod bridge's gateway (the first address of --pod-cidr,
 * the one Docker gives the bridge), port 53, so:
 *
 *   serve  clusterDNS                    pods get          the server
 *   on     unset or the gateway          the gateway       serves
 *   on     one address of the service    that ClusterIP    serves, and the proxy routes the
 *          CIDR                                            ClusterIP to it (kube-system/kube-dns)
 *   on     anything else, or several      (error: the flag or field that named it)
 *   off    anything                      clusterDNS as set (none: the host's resolvers)
 *
 * `dockerlet up` serves it unless told not to, but in cluster mode a clusterDNS other than the
 * gateway means the cluster runs its own DNS (kube-dns at a ClusterIP), and then it does not
 * unless told to.
 * `dockerlet proxy` serves it only when told to: the agent it runs beside must then be given
 * --cluster-dns <gateway>.
 */
import type { Logger } from 'pino';
import { firstAddress, type Ipv4Cidr } from '../common/util/ipv4.js';
import { isUsable } from '../proxy/config/allocator.js';
import { readHostResolvConf } from '../common/util/resolv-conf.js';
import type { ClusterDnsOptions } from '../proxy/dns/cluster-dns.js';
import { boolean, type Setting } from './settings.js';

/** The port pods ask: resolv.conf cannot name another. */
const DnsPort = 53;

export interface ClusterDnsInputs {
  /** --serve-cluster-dns / serveClusterDNS, when given. */
  serve: Setting<string | boolean | undefined>;
  /** What to do when `serve` is not given. */
  serveByDefault: 'always' | 'unless-cluster-dns-elsewhere' | 'never';
  /** --cluster-dns / clusterDNS, as set. */
  clusterDNS: Setting<readonly string[]>;
  podCIDR: Ipv4Cidr;
  /** The proxy's --service-cluster-ip-range: a clusterDNS in it is a ClusterIP the proxy routes. */
  serviceCIDR: Ipv4Cidr;
  domain: string;
  /** The host's resolv.conf: where names outside the cluster go. */
  resolvConf: string;
}

export interface ClusterDnsDecision {
  /** The server's options, when this node serves the cluster DNS. */
  server?: ClusterDnsOptions;
  /** The nameservers ClusterFirst pods get. */
  clusterDNS: readonly string[];
}

export async function resolveClusterDns(inputs: ClusterDnsInputs, log: Logger): Promise<ClusterDnsDecision> {
  // The pod bridge's address: the agent makes the first address of the subnet its gateway.
  const gateway = firstAddress(inputs.podCIDR);
  const given = inputs.clusterDNS.value;
  const elsewhere = given.length > 0 && !given.includes(gateway);
  const serve =
    inputs.serve.value !== undefined
      ? boolean(inputs.serve as Setting<string | boolean>)
      : inputs.serveByDefault === 'always' || (inputs.serveByDefault === 'unless-cluster-dns-elsewhere' && !elsewhere);
  if (!serve) {
    if (inputs.serve.value === undefined && elsewhere && inputs.serveByDefault !== 'never') {
      log.info({ clusterDNS: given }, "not serving the cluster DNS: clusterDNS names the cluster's own DNS server");
    }
    return { clusterDNS: given };
  }
  // Served, pods are told exactly one address: the gateway, or one usable ClusterIP.
  const serviceIP = elsewhere && given.length === 1 && isUsable(inputs.serviceCIDR, given[0]!) ? given[0] : undefined;
  if (given.length > 1 || (elsewhere && !serviceIP)) {
    throw inputs.clusterDNS.invalid(
      `dockerlet's cluster DNS answers on the pod bridge's gateway ${gateway}, or at one ClusterIP of ${inputs.serviceCIDR.text}: leave it unset, set it to ${gateway} or to such an address, or turn the server off (--serve-cluster-dns=false) to give pods another DNS server`,
    );
  }
  const host = await readHostResolvConf(inputs.resolvConf);
  if (host.conf.nameservers.length === 0) log.warn({ resolvConf: host.from }, 'the host resolv.conf names no nameserver: the cluster DNS answers only cluster names');
  return {
    server: {
      listen: { host: gateway, port: DnsPort },
      ...(serviceIP ? { serviceIP } : {}),
      domain: inputs.domain,
      // Never itself: a host whose resolv.conf names the gateway (or the DNS ClusterIP) would send a query round in circles.
      upstreams: host.conf.nameservers.filter((server) => server !== gateway && server !== serviceIP).map((server) => ({ host: server, port: DnsPort })),
      clients: [inputs.podCIDR],
    },
    clusterDNS: given.length > 0 ? given : [gateway],
  };
}
