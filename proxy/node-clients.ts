/**
 * Which clients are the node's own: the node itself (loopback, 127.0.0.0/8 and ::1, or one of
 * this host's addresses, kube-proxy's `-m addrtype --src-type LOCAL`) or a client in one of the
 * given networks (its pods: kube-proxy's LocalTrafficDetector in ClusterCIDR mode). Two users:
 * - the userspace proxier, for externalTrafficPolicy Local: a client inside the node (the host, or
 *   the pod CIDR) reaches every endpoint of a NodePort, as kube-proxy's iptables short-circuits
 *   send it (syncProxyRules); every other client gets this node's endpoints only;
 * - the cluster DNS, which answers the node and its pods only, so that it is no open resolver.
 *
 * The host's addresses are read once, and read again when an address that is none of them (nor in
 * the networks) asks, once a second at most: an address the host took since is known within a
 * second, and outside clients cost no more than one read a second.
 */
import { networkInterfaces } from 'node:os';
import { systemClock, type Clock } from '../common/util/clock.js';
import { cidrContains, type Ipv4Cidr } from '../common/util/ipv4.js';
import { isLoopbackAddress } from '../common/util/special-addresses.js';

/** Whether a client at `address` (IPv4-mapped IPv6 too) is the node's: the node itself or in its networks. */
export type NodeClient = (address: string) => boolean;

export interface NodeClientsOptions {
  /** The networks whose clients are the node's too (its pods); none: the node itself only. */
  networks?: readonly Ipv4Cidr[];
  /** The host's addresses now: its interfaces' unless told. */
  hostAddresses?: () => Iterable<string>;
  clock?: Clock;
}

/** Re-reading the host's addresses on a miss waits this long after the last read. */
export const HostAddressesRefreshMs = 1_000;

/** The interfaces' addresses, as node:os reads them. */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((addresses) => (addresses ?? []).map((address) => address.address));
}

export function nodeClients(options: NodeClientsOptions = {}): NodeClient {
  const networks = options.networks ?? [];
  const read = options.hostAddresses ?? interfaceAddresses;
  const clock = options.clock ?? systemClock;
  let known = new Set(read());
  let readAt = clock.now();
  return (address) => {
    const ip = address.replace(/^::ffff:/i, '');
    if (isLoopbackAddress(ip) || known.has(ip) || networks.some((cidr) => cidrContains(cidr, ip))) return true;
    if (clock.now() - readAt < HostAddressesRefreshMs) return false;
    known = new Set(read());
    readAt = clock.now();
    return known.has(ip);
  };
}
