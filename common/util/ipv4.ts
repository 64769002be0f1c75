/** IPv4 addresses and CIDRs, as much as the proxy needs: parse, print, contain. The proxy is IPv4 only. */

export interface Ipv4Cidr {
  /** The network address as an unsigned 32-bit number (host bits cleared). */
  network: number;
  prefixLength: number;
  /** How many addresses the range spans. */
  size: number;
  /** Normalised, as iptables prints it: "10.96.0.0/16". */
  text: string;
}

/** "10.96.0.10" -> its unsigned 32-bit value; undefined for anything else (leading zeros too). */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

const mask = (prefixLength: number): number => (prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0);

/** "10.96.0.0/16" -> the CIDR (host bits cleared); undefined when it is not an IPv4 CIDR. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const [address, prefix, ...rest] = text.trim().split('/');
  if (address === undefined || prefix === undefined || rest.length > 0 || !/^\d{1,2}$/.test(prefix)) return undefined;
  const prefixLength = Number(prefix);
  const value = parseIpv4(address);
  if (value === undefined || prefixLength > 32) return undefined;
  const network = (value & mask(prefixLength)) >>> 0;
  return { network, prefixLength, size: 2 ** (32 - prefixLength), text: `${formatIpv4(network)}/${prefixLength}` };
}

/** The first host address of `cidr`: the one Docker gives a bridge network's gateway ("10.244.0.0/16" -> "10.244.0.1"). */
export function firstAddress(cidr: Ipv4Cidr): string {
  return formatIpv4(cidr.network + 1);
}

export function cidrContains(cidr: Ipv4Cidr, ip: string): boolean {
  const value = parseIpv4(ip);
  return value !== undefined && (value & mask(cidr.prefixLength)) >>> 0 === cidr.network;
}

/** Whether every address of `inner` is in `outer`. */
export function cidrCovers(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.prefixLength >= outer.prefixLength && (inner.network & mask(outer.prefixLength)) >>> 0 === outer.network;
}

export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}
