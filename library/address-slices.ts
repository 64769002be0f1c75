/**
 * A test node's own addresses, so that nodes started side by side (in one test process, in
 * parallel test files, or by `dockerlet run`) never share a pod subnet, a service address or a
 * node port. Each takes a slice, and a host lock on it (common/util/host-lock.ts) for as long as
 * it runs:
 *
 *   slice k (0..127)   pods 10.250.k.0/24   services 10.97.k.0/24   node ports 30000+20k .. 30000+20k+19
 *
 * The service range 10.97.0.0/16 lies outside the default --service-cluster-ip-range
 * (10.96.0.0/16), so a `dockerlet up` on the same host never hands out one of these addresses;
 * scripts/setup-host.sh guards both. The node port bands are inside the default range, and a
 * manifest that asks for a node port outside its node's band is refused with the range it may use.
 */
import { formatIpv4, parseIpv4Cidr, type Ipv4Cidr } from '../common/util/ipv4.js';

/** Where test nodes' Services get their ClusterIPs: the guard protects it (scripts/setup-host.sh). */
export const TestServiceRange = '10.97.0.0/16';
const ServiceRange = parseIpv4Cidr(TestServiceRange)!;
export const SliceCount = 128;
const NodePortsPerSlice = 20;
const FirstNodePort = 30000;

export interface AddressSlice {
  index: number;
  podCIDR: Ipv4Cidr;
  serviceCIDR: Ipv4Cidr;
  nodePorts: { min: number; max: number };
}

export function addressSlice(index: number): AddressSlice {
  if (!Number.isInteger(index) || index < 0 || index >= SliceCount) throw new RangeError(`address slice ${index}: must be 0 to ${SliceCount - 1}`);
  const min = FirstNodePort + index * NodePortsPerSlice;
  return {
    index,
    podCIDR: parseIpv4Cidr(`10.250.${index}.0/24`)!,
    serviceCIDR: parseIpv4Cidr(`${formatIpv4(ServiceRange.network + index * 256)}/24`)!,
    nodePorts: { min, max: min + NodePortsPerSlice - 1 },
  };
}

/** The host lock a running node holds on its slice (sessions.ts takes it). */
export const sliceLockKey = (index: number): string => `library/address-slice/${index}`;
