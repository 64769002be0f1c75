/**
 * Services and their endpoints -> the ProxyState a datapath is given, whoever found the
 * endpoints: the agent's own pods on a standalone node (pod-endpoints.ts), the API server's
 * EndpointSlices or Endpoints in a cluster (api-endpoints.ts). Headless and ExternalName
 * Services are not proxied (ShouldSkipService); SCTP ports are left out (no datapath carries
 * them). A service port's endpoints are deduplicated and sorted: their order is the rules'.
 * Endpoints on loopback or link-local addresses are left out for both datapaths, as the API
 * server refuses them (IsProxyableIP): a Service must not become a way into the node itself or
 * its metadata address.
 */
import type { Service, ServicePort } from '../../common/api/types.js';
import { isProxyableIp } from '../../common/util/special-addresses.js';
import type { EndpointInfo, ProxyState, ServicePortInfo, ServiceProtocol } from '../datapath/proxier.js';

/** The endpoints of one port of a proxied Service. */
export type EndpointLookup = (service: Service, port: ServicePort, protocol: ServiceProtocol) => readonly EndpointInfo[];

/** kube-proxy's ServicePortName: "<namespace>/<name>:<port name>". */
export function servicePortId(service: Service, port: ServicePort): string {
  return `${service.metadata?.namespace ?? 'default'}/${service.metadata?.name ?? ''}:${port.name ?? ''}`;
}

/** Whether the datapath should carry the Service (ShouldSkipService, inverted). */
export function isProxied(service: Service): boolean {
  const spec = service.spec;
  return spec?.type !== 'ExternalName' && Boolean(spec?.clusterIP) && spec?.clusterIP !== 'None';
}

function servicePortInfo(service: Service, port: ServicePort, protocol: ServiceProtocol): ServicePortInfo {
  const spec = service.spec!;
  const nodePort = port.nodePort !== undefined && (spec.type === 'NodePort' || spec.type === 'LoadBalancer');
  return {
    id: servicePortId(service, port),
    namespace: service.metadata?.namespace ?? 'default',
    name: service.metadata?.name ?? '',
    portName: port.name ?? '',
    protocol,
    clusterIP: spec.clusterIP!,
    port: port.port,
    ...(nodePort ? { nodePort: port.nodePort } : {}),
    ...(spec.sessionAffinity === 'ClientIP' ? { affinityTimeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 } : {}),
    ...(spec.internalTrafficPolicy === 'Local' ? { internalPolicyLocal: true } : {}),
    ...(nodePort && spec.externalTrafficPolicy === 'Local' ? { externalPolicyLocal: true } : {}),
  };
}

function uniqueSorted(endpoints: readonly EndpointInfo[]): EndpointInfo[] {
  const byAddress = new Map(endpoints.map((endpoint) => [`${endpoint.ip}:${endpoint.port}`, endpoint]));
  return [...byAddress.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, endpoint]) => endpoint);
}

export function buildProxyState(services: readonly Service[], endpointsOf: EndpointLookup): ProxyState {
  const servicePorts: ServicePortInfo[] = [];
  const endpoints = new Map<string, EndpointInfo[]>();
  const unproxyable: string[] = [];
  for (const service of services) {
    if (!isProxied(service)) continue;
    for (const port of service.spec?.ports ?? []) {
      const protocol = port.protocol ?? 'TCP';
      if (protocol !== 'TCP' && protocol !== 'UDP') continue;
      const info = servicePortInfo(service, port, protocol);
      servicePorts.push(info);
      const found = uniqueSorted(endpointsOf(service, port, protocol));
      for (const endpoint of found) if (!isProxyableIp(endpoint.ip)) unproxyable.push(`${info.id} ${endpoint.ip}:${endpoint.port}`);
      endpoints.set(info.id, found.filter((endpoint) => isProxyableIp(endpoint.ip)));
    }
  }
  return { servicePorts, endpoints, ...(unproxyable.length > 0 ? { unproxyable } : {}) };
}
