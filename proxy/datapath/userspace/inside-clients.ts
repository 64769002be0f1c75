/**
 * Which clients of a NodePort are inside the node, for externalTrafficPolicy Local: the ones
 * kube-proxy's iptables short-circuits send to every endpoint (syncProxyRules: traffic from the
 * cluster CIDR jumps to the service's cluster chain, traffic whose source is LOCAL is
 * masqueraded and jumps there too). Here that is a client at one of this host's own addresses
 * (127.0.0.0/8 and every interface's) or in the pod CIDR; every other client is outside and gets
 * this node's endpoints only.
 *
 * The host's addresses are read once, and read again when an address that is not one of them
 * asks, once a second at most: an address the host took since is known within a second, and
 * outside clients cost no more than one read a second.
 */
import { networkInterfaces } from 'node:os';
import { systemClock, type Clock } from '../../../common/util/clock.js';
import { cidrContains, type Ipv4Cidr } from '../../../common/util/ipv4.js';
import { isLoopbackAddress } from '../../../common/util/special-addresses.js';

/** Whether a client at `address` is inside the node (the node itself or one of its pods). */
export type InsideClient = (address: string) => boolean;

export interface InsideClientsOptions {
  /** This node's pods (`--cluster-cidr`; `up`: its `--pod-cidr`). */
  podCIDR?: Ipv4Cidr;
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

export function insideClients(options: InsideClientsOptions = {}): InsideClient {
  const read = options.hostAddresses ?? interfaceAddresses;
  const clock = options.clock ?? systemClock;
  let known = new Set(read());
  let readAt = clock.now();
  return (address) => {
    const ip = address.replace(/^::ffff:/i, '');
    if (isLoopbackAddress(ip) || known.has(ip) || (options.podCIDR !== undefined && cidrContains(options.podCIDR, ip))) return true;
    if (clock.now() - readAt < HostAddressesRefreshMs) return false;
    known = new Set(read());
    readAt = clock.now();
    return known.has(ip);
  };
}
