/**
 * Pod admission (kubelet.go canAdmitPod with its admit handlers): before a pod the node has not
 * seen runs anything, it must fit. Refused: more pods than maxPods (the scheduler predicate's
 * OutOfpods), and sysctls the allowlist does not allow (SysctlForbidden). A refused pod is
 * Failed with the reason and "Pod was rejected: <message>", an event says why, and it never
 * starts; the decision is kept until the pod is gone.
 */
import type { DefaultedPod } from '../../common/api/types.js';
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
