/**
 * The addresses of a dockerlet cluster.
 *
 * One node (the default): the node is this host; its pods are on the pod network, all of it,
 * whose bridge's gateway is the node's address (where pods and the API server reach the host).
 *
 * Several nodes (--nodes N): the first node is this host, each further one a host of its own in
 * a network namespace (node-hosts.ts), all joined by a bridge on NodeNetworkCIDR, where this host
 * has the first address (the API server's, and the first node's InternalIP) and the k-th node
 * the (9+k)-th. Node k's pods have the k-th /24 of a pod network of their own, routed between the nodes
 * over that bridge (--node-routes). The subnets are the cluster command's to give, set in each
 * Node's spec.podCIDR before its agent starts: an agent that knows its subnet at start serves its
 * cluster DNS on its gateway from the first pod on.
 *
 * Services are in the range the host guard protects, the first address the kubernetes Service's.
 */
import { firstAddress, formatIpv4, parseIpv4Cidr } from '../../common/util/ipv4.js';
import { Defaults } from '../options.js';
import { ProxyDefaults } from '../proxy-options.js';

/** The bridge that joins the nodes of a cluster of several. */
export const NodeNetworkCIDR = '10.253.0.0/24';
const NodeNetworkPrefix = '10.253.0';
/** Each node's share of the pod network when there are several. */
const NodePodMaskSize = 24;
/**
 * The pod network and its Docker network when there are several nodes: not the host's default
 * ones (dockerlet, 10.244.0.0/16), which a standalone `dockerlet up` makes with Docker's
 * masquerade and leaves on the host, and which the first node's subnet would overlap.
 */
const SeveralNodesPodNetwork = { name: 'dockerlet-pods', cidr: '10.245.0.0/16' };
/** As many as the nodes' /24s, addresses and a host's memory allow comfortably. */
export const MaxNodes = 20;

export interface ClusterNodeAddresses {
  /** The Node's name: the cluster's for the first, <cluster>-<k> for the k-th. */
  name: string;
  /** 1 for this host's node, k for the k-th. */
  ordinal: number;
  /** Its InternalIP, where its kubelet server listens. */
  ip: string;
  podCIDR: string;
}

export interface ClusterNetwork {
  /** The API server's advertised address, which every node and pod reaches. */
  apiAddress: string;
  /** The pod network the nodes' subnets are in (the controller manager's --cluster-cidr). */
  clusterCIDR: string;
  /** The size of each node's subnet. */
  nodeMaskSize: number;
  serviceCIDR: string;
  /** The kubernetes Service's ClusterIP. */
  apiServiceIP: string;
  clusterDomain: string;
  /** The Docker network each node's pods join, on its own engine. */
  podNetwork: string;
  nodes: ClusterNodeAddresses[];
}

export function clusterNetwork(name: string, nodeCount: number): ClusterNetwork {
  const common = {
    serviceCIDR: ProxyDefaults.serviceClusterIpRange,
    apiServiceIP: firstAddress(parseIpv4Cidr(ProxyDefaults.serviceClusterIpRange)!),
    clusterDomain: Defaults.clusterDomain,
  };
  if (nodeCount === 1) {
    const cidr = parseIpv4Cidr(Defaults.podCIDR)!;
    const gateway = firstAddress(cidr);
    return { ...common, clusterCIDR: cidr.text, podNetwork: Defaults.podNetwork, apiAddress: gateway, nodeMaskSize: cidr.prefixLength, nodes: [{ name, ordinal: 1, ip: gateway, podCIDR: cidr.text }] };
  }
  const cidr = parseIpv4Cidr(SeveralNodesPodNetwork.cidr)!;
  const subnetSize = 2 ** (32 - NodePodMaskSize);
  const nodes = Array.from({ length: nodeCount }, (_, i) => ({
    name: i === 0 ? name : `${name}-${i + 1}`,
    ordinal: i + 1,
    ip: `${NodeNetworkPrefix}.${i === 0 ? 1 : 10 + i}`,
    podCIDR: `${formatIpv4(cidr.network + i * subnetSize)}/${NodePodMaskSize}`,
  }));
  return { ...common, clusterCIDR: cidr.text, podNetwork: SeveralNodesPodNetwork.name, apiAddress: nodes[0]!.ip, nodeMaskSize: NodePodMaskSize, nodes };
}
