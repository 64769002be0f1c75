/**
 * A pod's QoS class (pkg/apis/core/v1/helper/qos): Guaranteed when every container sets equal
 * cpu and memory limits and requests, BestEffort when none sets either, Burstable otherwise.
 */
import type { DefaultedPod } from './types.js';
import { parseQuantity } from './quantity.js';

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

export function qosClass(pod: DefaultedPod): QOSClass {
  const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  let anySet = false;
  let guaranteed = true;
  for (const container of containers) {
    const limits = container.resources?.limits ?? {};
    const requests = container.resources?.requests ?? {};
    for (const name of ['cpu', 'memory']) {
      const limit = limits[name] !== undefined ? parseQuantity(limits[name]) : undefined;
      const request = requests[name] !== undefined ? parseQuantity(requests[name]) : undefined;
      if ((limit ?? 0) > 0 || (request ?? 0) > 0) anySet = true;
      if (limit === undefined || limit === 0 || (request !== undefined && request !== limit)) guaranteed = false;
    }
  }
  if (!anySet) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
