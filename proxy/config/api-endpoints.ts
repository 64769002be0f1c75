/**
 * A cluster node's endpoints, as the API server's controllers publish them, read as kube-proxy
 * reads them:
 * - EndpointSlices (discovery.k8s.io v1, or v1beta1 on servers before 1.21: the fields read here
 *   are the same in both): the slices labelled kubernetes.io/service-name=<service> in its
 *   namespace, IPv4 ones only; for a service port, the slice port of the same name and protocol,
 *   and each endpoint whose ready condition is not false (unset means ready), at its first
 *   address (the others are fungible).
 * - v1 Endpoints, on servers without EndpointSlices: the object named as the Service; for a
 *   service port, each subset's port of the same name and protocol, and the subset's ready
 *   addresses (notReadyAddresses are not served).
 * For DNS, the same ready endpoints, whatever their ports, each once by address, with the hostname
 * the controllers gave it (a pod's spec.hostname when its subdomain names the Service).
 * An endpoint is this node's (for the Local traffic policies) when its nodeName is this node's
 * name, or, on v1beta1 slices, which had no nodeName before 1.20 made it alpha, when its
 * topology's kubernetes.io/hostname is (what kube-proxy 1.20 compared).
 * Not done, as kube-proxy does: topology hints, and falling back to serving-but-terminating
 * endpoints when none is ready.
 */
import type { Endpoints } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { EndpointInfo } from '../datapath/proxier.js';
import type { AddressLookup, EndpointAddress } from './proxy-config.js';
import type { EndpointLookup } from './proxy-state.js';

export type { EndpointSlice, Endpoints };

/** The label that ties an EndpointSlice to its Service. */
export const ServiceNameLabel = 'kubernetes.io/service-name';

const namespaced = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? 'default'}/${name ?? ''}`;

/** The IPv4 slices of each Service, by "<namespace>/<name>". */
function slicesByService(slices: readonly EndpointSlice[]): Map<string, EndpointSlice[]> {
  const byService = new Map<string, EndpointSlice[]>();
  for (const slice of slices) {
    const service = slice.metadata?.labels?.[ServiceNameLabel];
    if (!service || slice.addressType !== 'IPv4') continue;
    const key = namespaced(slice.metadata?.namespace, service);
    byService.set(key, [...(byService.get(key) ?? []), slice]);
  }
  return byService;
}

/** Each address once: the first endpoint that names it wins. */
function uniqueByIp(addresses: readonly EndpointAddress[]): EndpointAddress[] {
  const byIp = new Map<string, EndpointAddress>();
  for (const address of addresses) if (!byIp.has(address.ip)) byIp.set(address.ip, address);
  return [...byIp.values()];
}

/** A slice's endpoint as v1 and v1beta1 have it: v1beta1's topology map, which v1 dropped. */
export type SliceEndpoint = Endpoint & { topology?: Record<string, string> };

const onNode = (endpoint: SliceEndpoint, nodeName: string): boolean => (endpoint.nodeName ?? endpoint.topology?.['kubernetes.io/hostname']) === nodeName;

export function sliceEndpoints(slices: readonly EndpointSlice[], nodeName: string): EndpointLookup {
  const byService = slicesByService(slices);
  return (service, port, protocol) => {
    const endpoints: EndpointInfo[] = [];
    for (const slice of byService.get(namespaced(service.metadata?.namespace, service.metadata?.name)) ?? []) {
      const target = slice.ports?.find((p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === protocol)?.port;
      if (target === undefined) continue;
      for (const endpoint of slice.endpoints ?? []) {
        const ip = endpoint.addresses[0];
        if (ip && endpoint.conditions?.ready !== false) endpoints.push({ ip, port: target, isLocal: onNode(endpoint, nodeName) });
      }
    }
    return endpoints;
  };
}

export function sliceAddresses(slices: readonly EndpointSlice[]): AddressLookup {
  const byService = slicesByService(slices);
  return (service) => {
    const addresses: EndpointAddress[] = [];
    for (const slice of byService.get(namespaced(service.metadata?.namespace, service.metadata?.name)) ?? []) {
      for (const endpoint of slice.endpoints ?? []) {
        const ip = endpoint.addresses[0];
        if (ip && endpoint.conditions?.ready !== false) addresses.push({ ip, ...(endpoint.hostname ? { hostname: endpoint.hostname } : {}) });
      }
    }
    return uniqueByIp(addresses);
  };
}

export function endpointsObjectEndpoints(objects: readonly Endpoints[], nodeName: string): EndpointLookup {
  const byService = new Map(objects.map((object) => [namespaced(object.metadata?.namespace, object.metadata?.name), object]));
  return (service, port, protocol) => {
    const endpoints: EndpointInfo[] = [];
    for (const subset of byService.get(namespaced(service.metadata?.namespace, service.metadata?.name))?.subsets ?? []) {
      const target = subset.ports?.find((p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === protocol)?.port;
      if (target === undefined) continue;
      for (const address of subset.addresses ?? []) endpoints.push({ ip: address.ip, port: target, isLocal: address.nodeName === nodeName });
    }
    return endpoints;
  };
}

export function endpointsObjectAddresses(objects: readonly Endpoints[]): AddressLookup {
  const byService = new Map(objects.map((object) => [namespaced(object.metadata?.namespace, object.metadata?.name), object]));
  return (service) => {
    const subsets = byService.get(namespaced(service.metadata?.namespace, service.metadata?.name))?.subsets ?? [];
    return uniqueByIp(subsets.flatMap((subset) => (subset.addresses ?? []).map(({ ip, hostname }) => ({ ip, ...(hostname ? { hostname } : {}) }))));
  };
}
