/**
 * What a pod's QoS class means on the node (pkg/kubelet/qos/policy.go and the QoS cgroups of
 * pkg/kubelet/cm): the oom_score_adj each container gets, so that the kernel's OOM killer takes
 * BestEffort containers first and Guaranteed ones last, and the cgroup each pod is grouped under.
 *
 * Critical means by priority here (system-cluster-critical and above), not every static pod as
 * upstream has it: on a standalone node all pods are static, and QoS would mean nothing.
 */
import type { Container, DefaultedPod } from '../../common/api/types.js';
import { isCriticalPod } from '../../common/api/priority.js';
import { parseQuantity } from '../../common/api/quantity.js';
import { qosClass, type QOSClass } from '../../common/api/qos.js';
import type { CgroupName } from '../runtime/runtime.js';

const GuaranteedOOMScoreAdj = -997;
const BestEffortOOMScoreAdj = 1000;

/**
 * The container's oom_score_adj. A Burstable container's falls from 999 towards 3 as its memory
 * request approaches the node's memory: one that uses more than it asked for scores about as a
 * BestEffort one, one within its request scores below it.
 */
export function containerOOMScoreAdj(pod: DefaultedPod, container: Container, memoryCapacityBytes: number): number {
  if (isCriticalPod(pod)) return GuaranteedOOMScoreAdj;
  const qos = qosClass(pod);
  if (qos === 'Guaranteed') return GuaranteedOOMScoreAdj;
  if (qos === 'BestEffort') return BestEffortOOMScoreAdj;
  const request = container.resources?.requests?.['memory'];
  const requestBytes = (request !== undefined ? parseQuantity(request) : undefined) ?? 0;
  const adjust = 1000 - Math.trunc((1000 * requestBytes) / memoryCapacityBytes);
  if (adjust < 1000 + GuaranteedOOMScoreAdj) return 1000 + GuaranteedOOMScoreAdj;
  return adjust >= BestEffortOOMScoreAdj ? BestEffortOOMScoreAdj - 1 : adjust;
}

/** dockerlet's own cgroup: its pods' QoS cgroups are under it, as the kubelet's are under kubepods. */
export const NodeCgroupName: CgroupName = ['dockerlet'];

/** The cgroup a pod of this class is placed in: Guaranteed pods in dockerlet's own, the others in one per class. */
export function qosCgroupName(qos: QOSClass): CgroupName {
  return qos === 'Guaranteed' ? NodeCgroupName : [...NodeCgroupName, qos.toLowerCase()];
}
