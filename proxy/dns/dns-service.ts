/**
 * The cluster DNS at a ClusterIP (--cluster-dns 10.96.0.10), as a cluster's kube-dns Service is:
 * the Service kube-system/kube-dns with ports dns (53/UDP) and dns-tcp (53/TCP), whose one
 * endpoint is the DNS server on the pod bridge's gateway, carried by the proxy's datapath like
 * any other. On a standalone node the registry holds the Service (it claims its ClusterIP before
 * any manifest's); in a cluster it is the node's own, added to the API server's Services unless
 * one of them already has that ClusterIP (the cluster's own DNS, which is then left alone).
 */
import type { Logger } from 'pino';
import { namespacedName, type Service } from '../../common/api/types.js';
import type { EndpointAddress, ProxyConfig } from '../config/proxy-config.js';
import { servicePortId } from '../config/proxy-state.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../datapath/proxier.js';

/** kube-system/kube-dns at `clusterIP`, as kubeadm's CoreDNS Service is. */
export function kubeDnsService(clusterIP: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' } },
    spec: {
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      ],
    },
  };
}

/** `config` with the cluster DNS's Service at `clusterIP` routed to `endpoint` (the server's address, port 53). */
export function withClusterDnsService(config: ProxyConfig, dns: { clusterIP: string; endpoint: string }, logger: Logger): ProxyConfig {
  const service = kubeDnsService(dns.clusterIP);
  const ports: ServicePortInfo[] = (service.spec!.ports ?? []).map((port) => ({
    id: servicePortId(service, port),
    namespace: 'kube-system',
    name: 'kube-dns',
    portName: port.name!,
    protocol: port.protocol as 'UDP' | 'TCP',
    clusterIP: dns.clusterIP,
    port: 53,
  }));
  const endpoints: EndpointInfo[] = [{ ip: dns.endpoint, port: 53 }];
  let warned = false;
  /** Whether another Service holds the ClusterIP (the cluster's own DNS): then ours is not served. */
  const taken = (): Service | undefined => {
    const holder = config.services().find((other) => other.spec?.clusterIP === dns.clusterIP && namespacedName(other) !== namespacedName(service));
    if (holder && !warned) {
      warned = true;
      logger.warn({ service: namespacedName(holder), clusterIP: dns.clusterIP }, `the cluster DNS is not served at ${dns.clusterIP}: the Service ${namespacedName(holder)} has that ClusterIP`);
    }
    return holder;
  };
  return {
    services(): readonly Service[] {
      const services = config.services();
      if (taken() || services.some((other) => namespacedName(other) === namespacedName(service))) return services;
      return [...services, service];
    },
    endpointAddresses(of: Service): readonly EndpointAddress[] {
      return config.endpointAddresses(of);
    },
    state(): ProxyState {
      const state = config.state();
      if (taken()) return state;
      const ours = new Set(ports.map((port) => port.id));
      const merged = new Map(state.endpoints);
      for (const port of ports) merged.set(port.id, endpoints);
      return { ...state, servicePorts: [...state.servicePorts.filter((port) => !ours.has(port.id)), ...ports], endpoints: merged };
    },
    synced: () => config.synced(),
    onChange: (listener) => config.onChange(listener),
    start: () => config.start(),
    stop: () => config.stop(),
  };
}
