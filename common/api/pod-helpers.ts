/** Small facts about pods and containers (the API's pod helpers). */
import type { Container, DefaultedPod, Pod } from './types.js';
import { ConfigMirrorAnnotation, ConfigSourceAnnotation, type PodSource } from './well-known.js';
import { hashObject } from '../util/hash.js';

/** Whether a pod phase is terminal: Succeeded or Failed, after which the pod runs nothing more. */
export function isTerminalPhase(phase: string | undefined): phase is 'Succeeded' | 'Failed' {
  return phase === 'Succeeded' || phase === 'Failed';
}

/** An init container with its own restartPolicy Always: a sidecar (Kubernetes 1.29+). */
export function isSidecar(container: Container): boolean {
  return container.restartPolicy === 'Always';
}

/** Where the pod came from: its config.source annotation (the API server when it has none). */
export function podSource(pod: Pod): PodSource {
  const source = pod.metadata?.annotations?.[ConfigSourceAnnotation];
  return source === 'file' || source === 'http' ? source : 'api';
}

/** Static pods come from a file or a URL, not the API server. */
export function isStaticPod(pod: Pod): boolean {
  return podSource(pod) !== 'api';
}

/** A change of the hash restarts the container; equal specs always give equal hashes. */
export function containerHash(container: Container): string {
  return hashObject(container);
}

/** The pod's hostname: spec.hostname, else the pod name cut to a DNS label. */
export function podHostname(pod: DefaultedPod): string {
  const name = pod.spec.hostname || pod.metadata.name;
  return name.slice(0, 63).replace(/[-.]+$/, '');
}

/** Whether an API pod is a mirror pod (it carries config.mirror): the API's copy of a static pod, not a pod to run. */
export const isMirrorPod = (pod: Pod): boolean => pod.metadata?.annotations?.[ConfigMirrorAnnotation] !== undefined;
