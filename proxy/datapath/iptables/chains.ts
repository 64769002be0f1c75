/**
 * The names of dockerlet's iptables chains. Every chain is prefixed DOCKERLET- so nothing of
 * kube-proxy's or Docker's is ever touched; per-service chains are named like kube-proxy's
 * (KUBE-SVC-<hash>), from a hash of the service port name, protocol and endpoint.
 */
import { createHash } from 'node:crypto';
import type { ServicePortInfo } from '../proxier.js';

export type IptablesTable = 'nat' | 'filter';

/** nat and filter: one rule per service port; in nat the last rule jumps to the NodePorts. */
export const ServicesChain = 'DOCKERLET-SERVICES';
/** nat: one rule per NodePort, to its EXT chain. */
export const NodePortsChain = 'DOCKERLET-NODEPORTS';
/** nat: sets the masquerade mark. */
export const MarkMasqChain = 'DOCKERLET-MARK-MASQ';
/** nat: masquerades packets that carry the mark. */
export const PostroutingChain = 'DOCKERLET-POSTROUTING';
/** filter: NodePorts that have no endpoints are rejected here, and outside traffic dropped when a Local policy has none on this node. */
export const ExternalServicesChain = 'DOCKERLET-EXTERNAL-SERVICES';
/** filter: drops packets to 127.0.0.0/8 from elsewhere, the guard route_localnet needs. */
export const FirewallChain = 'DOCKERLET-FIREWALL';
/**
 * The service CIDR guard that scripts/setup-host.sh owns (filter OUTPUT, FORWARD, DOCKER-USER).
 * It shares our prefix but is not ours: nothing here ever flushes, deletes or unhooks it.
 */
export const ServiceGuardChain = 'DOCKERLET-SERVICE-GUARD';

export const ServiceChainPrefix = 'DOCKERLET-SVC-';
/** A service port's local endpoints only (kube-proxy's KUBE-SVL-), for its Local traffic policies. */
export const LocalServiceChainPrefix = 'DOCKERLET-SVL-';
export const ExternalChainPrefix = 'DOCKERLET-EXT-';
export const EndpointChainPrefix = 'DOCKERLET-SEP-';

/** The mark bit kube-proxy uses (--iptables-masquerade-bit 14). */
export const MasqueradeMark = '0x4000';

/** iptables rejects chain names of 29 characters or more ("must be under 29 chars"). */
export const MaxChainNameLength = 28;
/**
 * kube-proxy keeps 16 base32 characters of the hash, after a 9-character prefix. Ours are 14
 * characters long ("DOCKERLET-SVC-"), so 14 characters (70 bits) are kept: the first 14 of
 * kube-proxy's 16 for the same service port.
 */
export const HashLength = MaxChainNameLength - ServiceChainPrefix.length;

/** The fixed chains of each table, in the order they are declared. */
export const FixedChains: Readonly<Record<IptablesTable, readonly string[]>> = {
  filter: [ServicesChain, ExternalServicesChain, FirewallChain],
  nat: [ServicesChain, NodePortsChain, MarkMasqChain, PostroutingChain],
};

/** True for a chain dockerlet's proxy owns (flushes, deletes): DOCKERLET-*, but never the guard. */
export function isOwnChain(name: string): boolean {
  return name.startsWith('DOCKERLET-') && name !== ServiceGuardChain;
}

/** True for a per-service chain (SVC, SVL, EXT, SEP): these come and go with services and endpoints. */
export function isServiceChain(name: string): boolean {
  return [ServiceChainPrefix, LocalServiceChainPrefix, ExternalChainPrefix, EndpointChainPrefix].some((prefix) => name.startsWith(prefix));
}

/**
 * kube-proxy's ServicePortName.String(): "<namespace>/<name>" and ":<port name>" when the port
 * is named. Used in comments and as the hash input.
 */
export function servicePortName(sp: ServicePortInfo): string {
  return sp.portName ? `${sp.namespace}/${sp.name}:${sp.portName}` : `${sp.namespace}/${sp.name}`;
}

/** A service port's chains, all named with one hash: base32(sha256(name + lowercased protocol)). */
export interface ServicePortChains {
  /** DOCKERLET-SVC-<hash>: every endpoint. */
  svc: string;
  /** DOCKERLET-SVL-<hash>: this node's endpoints. */
  svl: string;
  /** DOCKERLET-EXT-<hash>: its NodePort's traffic. */
  ext: string;
}

export function servicePortChains(sp: ServicePortInfo): ServicePortChains {
  const hash = chainHash(servicePortName(sp) + sp.protocol.toLowerCase());
  return { svc: ServiceChainPrefix + hash, svl: LocalServiceChainPrefix + hash, ext: ExternalChainPrefix + hash };
}

/** DOCKERLET-SEP-<hash>: base32(sha256(name + lowercased protocol + "ip:port")). */
export function endpointChainName(sp: ServicePortInfo, endpoint: string): string {
  return EndpointChainPrefix + chainHash(servicePortName(sp) + sp.protocol.toLowerCase() + endpoint);
}

function chainHash(input: string): string {
  return base32(createHash('sha256').update(input).digest()).slice(0, HashLength);
}

const Base32Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (Go's base32.StdEncoding) without padding, of the first bytes of `bytes` needed. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  // 10 bytes give 16 characters: more than HashLength needs.
  for (const byte of bytes.subarray(0, 10)) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += Base32Alphabet[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
