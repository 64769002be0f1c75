/** Docker container names, as dockershim and cri-dockerd write them (core/naming.go). */
import { SandboxContainerName } from '../../../common/api/well-known.js';
import type { PodRef } from '../runtime.js';

const Prefix = 'k8s';

/** k8s_<container>_<pod>_<namespace>_<uid>_<attempt>; the sandbox's container name is POD. */
export function dockerContainerName(containerName: string, pod: PodRef, attempt: number): string {
  return [Prefix, containerName, pod.name, pod.namespace, pod.uid, String(attempt)].join('_');
}

export function dockerSandboxName(pod: PodRef, attempt: number): string {
  return dockerContainerName(SandboxContainerName, pod, attempt);
}
