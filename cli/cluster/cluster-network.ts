/**
 * The addresses of a dockerlet cluster, the node's defaults: pods on the pod network, whose
 * bridge's gateway is the node's address (where pods and the API server reach the host);
 * Services in the range the host guard protects, the first address the kubernetes Service's.
 */
import { firstAddress, parseIpv4Cidr } from '../../common/util/ipv4.js';
import { Defaults } from '../options.js';
import { ProxyDefaults } from '../proxy-options.js';

export interface ClusterNetwork {
  nodeIP: string;
  podCIDR: string;
  serviceCIDR: string;
  /** The kubernetes Service's ClusterIP. */
  apiServiceIP: string;
  clusterDomain: string;
  /** The Docker network the node's pods join. */
  podNetwork: string;
}

export function clusterNetwork(): ClusterNetwork {
  return {
    nodeIP: firstAddress(parseIpv4Cidr(Defaults.podCIDR)!),
    podCIDR: Defaults.podCIDR,
    serviceCIDR: ProxyDefaults.serviceClusterIpRange,
    apiServiceIP: firstAddress(parseIpv4Cidr(ProxyDefaults.serviceClusterIpRange)!),
    clusterDomain: Defaults.clusterDomain,
    podNetwork: Defaults.podNetwork,
  };
}
