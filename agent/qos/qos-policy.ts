/**
 * What a pod's QoS class means to the kernel (pkg/kubelet/qos/policy.go): the oom_score_adj each
 * container gets, so that the OOM killer takes BestEffort containers first and Guaranteed ones
 * last. A node-critical pod (system-node-critical, at a critical priority) scores as Guaranteed
 * whatever its class, as upstream's IsNodeCriticalPod; upstream counts every static pod as
 * critical too, which dockerlet does not: on a standalone node all pods are static, and QoS
 * would mean nothing.
 */
import type { Container, DefaultedPod } from '../../common/api/types.js';
import { isCriticalPod } from '../../common/api/priority.js';
import { parseQuantity } from '../../common/api/quantity.js';
import { qosClass } from '../../common/api/qos.js';

const GuaranteedOOMScoreAdj = -997;
const BestEffortOOMScoreAdj = 1000;

/**
 * The container's oom_score_adj. A Burstable container's falls from 999 towards 3 as its memory
 * request approaches the node's memory: one that uses more than it asked for scores about as a
 * BestEffort one, one within its request scores below it.
 */
export function containerOOMScoreAdj(pod: DefaultedPod, container: Container, memoryCapacityBytes: number): number {
  if (isCriticalPod(pod) && pod.spec.priorityClassName === 'system-node-critical') return GuaranteedOOMScoreAdj;
  const qos = qosClass(pod);
  if (qos === 'Guaranteed') return GuaranteedOOMScoreAdj;
  if (qos === 'BestEffort') return BestEffortOOMScoreAdj;
  const request = container.resources?.requests?.['memory'];
  const requestBytes = (request !== undefined ? parseQuantity(request) : undefined) ?? 0;
  const adjust = 1000 - Math.trunc((1000 * requestBytes) / memoryCapacityBytes);
  if (adjust < 1000 + GuaranteedOOMScoreAdj) return 1000 + GuaranteedOOMScoreAdj;
  return adjust >= BestEffortOOMScoreAdj ? BestEffortOOMScoreAdj - 1 : adjust;
}
