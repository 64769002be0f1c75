/**
 * Addresses that name this host or its link rather than a pod: nothing may be proxied to them
 * (the API server's IsProxyableIP), and a server that answers only on loopback checks clients
 * against them.
 */
import { BlockList, isIP } from 'node:net';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Loopback, link-local unicast and link-local multicast: the ranges IsProxyableIP refuses. */
const unproxyable = new BlockList();
unproxyable.addSubnet('127.0.0.0', 8, 'ipv4');
unproxyable.addSubnet('169.254.0.0', 16, 'ipv4');
unproxyable.addSubnet('224.0.0.0', 24, 'ipv4');
unproxyable.addAddress('::1', 'ipv6');
unproxyable.addSubnet('fe80::', 10, 'ipv6');
unproxyable.addSubnet('ff02::', 16, 'ipv6');
unproxyable.addSubnet('ff01::', 16, 'ipv6');

/** The address without an IPv4-mapped IPv6 prefix ("::ffff:127.0.0.1" -> "127.0.0.1"). */
function unmapped(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function check(list: BlockList, address: string): boolean {
  const plain = unmapped(address);
  const family = isIP(plain);
  return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether `address` (an IP, or "localhost") is a loopback address. */
export function isLoopbackAddress(address: string): boolean {
  return address === 'localhost' || check(loopback, address);
}

/** Whether traffic may be proxied to `ip`: an IP address outside loopback and link-local ranges. */
export function isProxyableIp(ip: string): boolean {
  return isIP(unmapped(ip)) !== 0 && !check(unproxyable, ip);
}
