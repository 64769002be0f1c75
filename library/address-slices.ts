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
import { DockerletError } from '../common/api/errors.js';
import { HostLock } from '../common/util/host-lock.js';
import { parseIpv4Cidr, type Ipv4Cidr } from '../common/util/ipv4.js';

/** Where test nodes' Services get their ClusterIPs: the guard protects it (scripts/setup-host.sh). */
export const TestServiceRange = '10.97.0.0/16';
const SliceCount = 128;
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
    serviceCIDR: parseIpv4Cidr(`10.97.${index}.0/24`)!,
    nodePorts: { min, max: min + NodePortsPerSlice - 1 },
  };
}

const sliceLockKey = (index: number): string => `library/address-slice/${index}`;

/** Takes the first free slice for `owner`; the lock goes with the process however it ends. */
export async function takeAddressSlice(owner: Record<string, string | number>): Promise<{ slice: AddressSlice; lock: HostLock }> {
  const taken = new Error('taken');
  for (let index = 0; index < SliceCount; index++) {
    try {
      return { slice: addressSlice(index), lock: await HostLock.acquire([sliceLockKey(index)], owner, () => taken) };
    } catch (err) {
      if (err !== taken) throw err;
    }
  }
  throw new DockerletError('DKL_ERR_RUNTIME', `all ${SliceCount} address slices of test nodes are taken: stop some of the nodes running on this host`);
}
