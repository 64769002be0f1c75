/**
 * Services and pods -> what the datapath is given (the EndpointSlice controller's work, done
 * here because a standalone node has no controller manager): for every port of every proxied
 * Service, the pods in its namespace whose labels match its selector and that are Ready (all of
 * them with publishNotReadyAddresses), each at its own port for the Service's targetPort. A
 * named targetPort is looked up per pod, by name and protocol, in its containers and sidecars
 * (FindPort); a pod without it is no endpoint of that port. Headless and ExternalName Services,
 * and Services without a selector, are not proxied (ShouldSkipService).
 */
import type { Container, Pod, PodStatus, Service, ServicePort } from '../../agent/api/types.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../datapath/proxier.js';

export interface PodWithStatus {
  pod: Pod;
  status: PodStatus | undefined;
}

/** kube-proxy's ServicePortName: "<namespace>/<name>:<port name>". */
export function servicePortId(service: Service, port: ServicePort): string {
  return `${service.metadata?.namespace ?? 'default'}/${service.metadata?.name ?? ''}:${port.name ?? ''}`;
}

/** Whether the datapath should carry the Service (ShouldSkipService, inverted). */
export function isProxied(service: Service): boolean {
  const spec = service.spec;
  return spec?.type !== 'ExternalName' && Boolean(spec?.clusterIP) && spec?.clusterIP !== 'None';
}

/** The pod's port for `targetPort` (FindPort): a number as it is, a name by name and protocol. */
export function findPort(pod: Pod, targetPort: number | string, protocol: string): number | undefined {
  if (typeof targetPort === 'number') return targetPort;
  const containers: Container[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
  for (const container of containers) {
    const port = container.ports?.find((p) => p.name === targetPort && (p.protocol ?? 'TCP') === protocol);
    if (port) return port.containerPort;
  }
  return undefined;
}

function selects(selector: Record<string, string> | undefined, pod: Pod): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function isServing(status: PodStatus | undefined, publishNotReady: boolean): boolean {
  if (!status?.podIP || status.phase === 'Succeeded' || status.phase === 'Failed') return false;
  return publishNotReady || status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

export function buildProxyState(services: readonly Service[], pods: readonly PodWithStatus[]): ProxyState {
  const servicePorts: ServicePortInfo[] = [];
  const endpoints = new Map<string, EndpointInfo[]>();
  for (const service of services) {
    if (!isProxied(service)) continue;
    const spec = service.spec!;
    const namespace = service.metadata?.namespace ?? 'default';
    const members = pods.filter(
      ({ pod, status }) => (pod.metadata?.namespace ?? 'default') === namespace && selects(spec.selector, pod) && isServing(status, spec.publishNotReadyAddresses === true),
    );
    for (const port of spec.ports ?? []) {
      const protocol = port.protocol ?? 'TCP';
      if (protocol !== 'TCP' && protocol !== 'UDP') continue;
      const id = servicePortId(service, port);
      servicePorts.push({
        id,
        namespace,
        name: service.metadata?.name ?? '',
        portName: port.name ?? '',
        protocol,
        clusterIP: spec.clusterIP!,
        port: port.port,
        ...(port.nodePort !== undefined && (spec.type === 'NodePort' || spec.type === 'LoadBalancer') ? { nodePort: port.nodePort } : {}),
        ...(spec.sessionAffinity === 'ClientIP' ? { affinityTimeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 } : {}),
      });
      const seen = new Set<string>();
      const list: EndpointInfo[] = [];
      for (const { pod, status } of members) {
        const target = findPort(pod, port.targetPort ?? port.port, protocol);
        const key = `${status!.podIP}:${target}`;
        if (target === undefined || seen.has(key)) continue;
        seen.add(key);
        list.push({ ip: status!.podIP!, port: target });
      }
      endpoints.set(id, list.sort((a, b) => `${a.ip}:${a.port}`.localeCompare(`${b.ip}:${b.port}`)));
    }
  }
  return { servicePorts, endpoints };
}
