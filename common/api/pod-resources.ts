/**
 * What a pod asks for and is held to as a whole (k8s.io/component-helpers resource PodRequests
 * and PodLimits): its app containers and sidecars together, or its largest init container with
 * the sidecars started before it, whichever is more. Used by eviction's ranking and local
 * storage limits, and by the pod's cgroup.
 */
import type { Container, DefaultedPod } from './types.js';
import { isSidecar } from './pod-helpers.js';
import { parseQuantity } from './quantity.js';

export type ResourceKind = 'requests' | 'limits';

/** A container's request or limit of `resource` (bytes, cores, ...), undefined when it sets none. */
export function containerResource(container: Container | undefined, kind: ResourceKind, resource: string): number | undefined {
  const value = container?.resources?.[kind]?.[resource];
  return value !== undefined ? parseQuantity(value) : undefined;
}

/** The pod's effective request or limit of `resource`; undefined when no container sets it. */
export function podResource(pod: Pick<DefaultedPod, 'spec'>, kind: ResourceKind, resource: string): number | undefined {
  let set = false;
  const of = (container: Container): number => {
    const value = containerResource(container, kind, resource);
    if (value !== undefined) set = true;
    return value ?? 0;
  };
  let running = pod.spec.containers.reduce((sum, container) => sum + of(container), 0);
  let sidecarsSoFar = 0;
  let largestInit = 0;
  for (const container of pod.spec.initContainers ?? []) {
    if (isSidecar(container)) {
      sidecarsSoFar += of(container);
      running += of(container);
    } else {
      largestInit = Math.max(largestInit, of(container) + sidecarsSoFar);
    }
  }
  return set ? Math.max(running, largestInit) : undefined;
}
