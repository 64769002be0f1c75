/**
 * Pod admission (kubelet.go canAdmitPod with its admit handlers): before a pod the node has not
 * seen runs anything, it must fit. Refused, in upstream's order: any pod but a critical one
 * while the node is under disk or PID pressure, and a BestEffort pod that does not tolerate the
 * memory-pressure taint under memory pressure (the eviction manager's Admit, reason Evicted),
 * unless its containers already run here; critical means by priority, as for eviction, where
 * upstream admits every static pod;
 * sysctls the allowlist does not allow (SysctlForbidden); more pods than maxPods (the
 * scheduler predicate's OutOfpods). A refused pod is
 * Failed with the reason and "Pod was rejected: <message>", an event says why, and it never
 * starts; the decision is kept until the pod is gone.
 */
import type { DefaultedPod } from '../../common/api/types.js';
import { isCriticalPod } from '../../common/api/priority.js';
import { qosClass } from '../../common/api/qos.js';
import { toleratesTaint } from '../../common/api/tolerations.js';
import type { EventRecorder } from '../events/recorder.js';
import { podRef } from '../runtime/runtime.js';
import type { SysctlAllowlist } from './sysctls.js';

export interface PodRejection {
  reason: string;
  message: string;
}

export interface PodAdmissionOptions {
  maxPods: number;
  sysctls: SysctlAllowlist;
  /** The node's pressure conditions now. */
  pressure(): ReadonlySet<string>;
  /** Whether the pod's containers already run here (an agent that restarts keeps them, whatever the pressure). */
  running(uid: string): boolean;
  recorder: EventRecorder;
}

export class PodAdmission {
  readonly #o: PodAdmissionOptions;
  readonly #rejected = new Map<string, PodRejection>();

  constructor(options: PodAdmissionOptions) {
    this.#o = options;
  }

  /** Admits `pod` beside `activePods` (the pods running or starting on the node), or rejects it for good. */
  admit(pod: DefaultedPod, activePods: readonly DefaultedPod[]): boolean {
    if (this.#rejected.has(pod.metadata.uid)) return false;
    const refusal = this.#refusal(pod, activePods);
    if (!refusal) return true;
    this.#rejected.set(pod.metadata.uid, { reason: refusal.reason, message: `Pod was rejected: ${refusal.message}` });
    this.#o.recorder.event({ kind: 'Pod', ...podRef(pod) }, 'Warning', refusal.reason, refusal.message);
    return false;
  }

  /** Why `uid` was rejected; undefined when it was not. */
  rejection(uid: string): PodRejection | undefined {
    return this.#rejected.get(uid);
  }

  forget(uid: string): void {
    this.#rejected.delete(uid);
  }

  #refusal(pod: DefaultedPod, activePods: readonly DefaultedPod[]): PodRejection | undefined {
    const pressure = this.#o.running(pod.metadata.uid) ? undefined : pressureRefusal(pod, this.#o.pressure());
    if (pressure) return pressure;
    for (const { name } of pod.spec.securityContext?.sysctls ?? []) {
      const refused = this.#o.sysctls.refusal(name, pod.spec.hostNetwork === true, pod.spec.hostIPC === true);
      if (refused) return { reason: 'SysctlForbidden', message: `forbidden sysctl: ${refused}` };
    }
    const used = activePods.filter((other) => other.metadata.uid !== pod.metadata.uid).length;
    if (used + 1 > this.#o.maxPods) {
      return { reason: 'OutOfpods', message: `Node didn't have enough resource: pods, requested: 1, used: ${used}, capacity: ${this.#o.maxPods}` };
    }
    return undefined;
  }
}

/** Why a node under pressure refuses `pod`, as the eviction manager's Admit: undefined when it admits it. */
function pressureRefusal(pod: DefaultedPod, conditions: ReadonlySet<string>): PodRejection | undefined {
  if (conditions.size === 0 || isCriticalPod(pod)) return undefined;
  if (conditions.size === 1 && conditions.has('MemoryPressure')) {
    if (qosClass(pod) !== 'BestEffort') return undefined;
    if (toleratesTaint(pod.spec.tolerations, { key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' })) return undefined;
  }
  return { reason: 'Evicted', message: `The node had condition: [${[...conditions].sort().join(' ')}]. ` };
}
