/**
 * The cluster DNS at a ClusterIP (--cluster-dns 10.96.0.10), as a cluster's kube-dns Service is:
 * the Service kube-system/kube-dns with ports dns (53/UDP) and dns-tcp (53/TCP), whose one
 * endpoint is the DNS server on the pod bridge's gateway, carried by the proxy's datapath like
 * any other. On a standalone node the registry holds the Service (it claims its ClusterIP before
 * any manifest's); in a cluster it is the node's own, added to the API server's Services unless
 * one of them has that ClusterIP or is itself kube-system/kube-dns (the cluster's own DNS,
 * which is then left alone). dockerlet's own is told apart by an annotation.
 */
import type { Logger } from 'pino';
import { namespacedName, type Service } from '../../common/api/types.js';
import type { EndpointAddress, ProxyConfig } from '../config/proxy-config.js';
import { servicePortId } from '../config/proxy-state.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../datapath/proxier.js';

/** Marks the Service as dockerlet's own, wherever it is listed (the registry copies it). */
const OwnServiceAnnotation = 'dockerlet.io/cluster-dns';

const isOwn = (service: Service): boolean => service.metadata?.annotations?.[OwnServiceAnnotation] === 'true';

/** kube-system/kube-dns at `clusterIP`, as kubeadm's CoreDNS Service is, marked as dockerlet's own. */
export function kubeDnsService(clusterIP: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'kube-dns',
      namespace: 'kube-system',
      labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' },
      annotations: { [OwnServiceAnnotation]: 'true' },
    },
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
  let reported: string | undefined;
  /**
   * Another Service at the ClusterIP, or another kube-system/kube-dns (the cluster's own DNS):
   * then ours is not served. Said each time the holder changes, and when it goes.
   */
  const taken = (): Service | undefined => {
    const holder = config.services().find(
      (other) => !isOwn(other) && (other.spec?.clusterIP === dns.clusterIP || namespacedName(other) === namespacedName(service)),
    );
    const now = holder && `${namespacedName(holder)} ${holder.spec?.clusterIP}`;
    if (now !== reported) {
      if (holder) logger.warn({ service: namespacedName(holder), clusterIP: holder.spec?.clusterIP }, `the cluster DNS is not served at ${dns.clusterIP}: the Service ${namespacedName(holder)} (${holder.spec?.clusterIP}) is the cluster's own, and is left alone`);
      else if (reported) logger.info({ clusterIP: dns.clusterIP }, `the cluster DNS is served at ${dns.clusterIP} again`);
      reported = now;
    }
    return holder;
  };
  return {
    services(): readonly Service[] {
      const services = config.services();
      if (taken() || services.some(isOwn)) return services;
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
