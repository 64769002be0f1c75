/**
 * A standalone node's endpoints, from the agent's own pods (the EndpointSlice controller's work,
 * done here because such a node has no controller manager): for a port of a Service, the pods in
 * its namespace whose labels match its selector and that are Ready (all of them with
 * publishNotReadyAddresses), each at its own port for the Service's targetPort. A named
 * targetPort is looked up per pod, by name and protocol, in its containers and sidecars
 * (FindPort); a pod without it is no endpoint of that port. A Service without a selector has none.
 * Every endpoint is local: the pods are this node's.
 * For DNS, each such pod is one address, named by its spec.hostname when its spec.subdomain is
 * the Service's name (as the EndpointSlice controller sets an endpoint's hostname).
 */
import type { Container, Pod, PodStatus, Service } from '../../common/api/types.js';
import type { EndpointInfo } from '../datapath/proxier.js';
import type { AddressLookup } from './proxy-config.js';
import type { EndpointLookup } from './proxy-state.js';

export interface PodWithStatus {
  pod: Pod;
  status: PodStatus | undefined;
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

/** The pods in `service`'s namespace that its selector matches and that serve (are Ready, unless it publishes not-ready addresses). */
function servingPods(pods: readonly PodWithStatus[], service: Service): Array<{ pod: Pod; podIP: string }> {
  const spec = service.spec!;
  const namespace = service.metadata?.namespace ?? 'default';
  return pods
    .filter(({ pod, status }) => (pod.metadata?.namespace ?? 'default') === namespace && selects(spec.selector, pod) && isServing(status, spec.publishNotReadyAddresses === true))
    .map(({ pod, status }) => ({ pod, podIP: status!.podIP! }));
}

export function podEndpoints(pods: readonly PodWithStatus[]): EndpointLookup {
  return (service, port, protocol) => {
    const endpoints: EndpointInfo[] = [];
    for (const { pod, podIP } of servingPods(pods, service)) {
      const target = findPort(pod, port.targetPort ?? port.port, protocol);
      if (target !== undefined) endpoints.push({ ip: podIP, port: target, isLocal: true });
    }
    return endpoints;
  };
}

export function podEndpointAddresses(pods: readonly PodWithStatus[]): AddressLookup {
  return (service) =>
    servingPods(pods, service).map(({ pod, podIP }) => {
      const hostname = pod.spec?.hostname && pod.spec.subdomain === service.metadata?.name ? pod.spec.hostname : undefined;
      return { ip: podIP, ...(hostname ? { hostname } : {}) };
    });
}
