/** Kubernetes API types used by the agent and the proxy (JSON shapes, from kubernetes-types). */
export type {
  Pod,
  PodSpec,
  PodStatus,
  PodCondition,
  PodList,
  Container,
  ContainerPort,
  ContainerStatus,
  ContainerState,
  EnvVar,
  Probe,
  Volume,
  VolumeMount,
  ConfigMap,
  Secret,
  Service,
  ServicePort,
  ResourceRequirements,
  HostAlias,
  LifecycleHandler,
  PodDNSConfig,
  KeyToPath,
  ConfigMapVolumeSource,
  SecretVolumeSource,
  DownwardAPIVolumeSource,
  DownwardAPIVolumeFile,
  ProjectedVolumeSource,
  VolumeProjection,
  ServiceAccountTokenProjection,
  HostPathVolumeSource,
  ResourceFieldSelector,
  SeccompProfile,
  Node,
  NodeCondition,
  NodeStatus,
  Taint,
  Toleration,
  PersistentVolume,
  PersistentVolumeClaim,
  NodeSelectorTerm,
  NodeSelectorRequirement,
} from 'kubernetes-types/core/v1.js';
export type { StorageClass } from 'kubernetes-types/storage/v1.js';
export type { ClusterRoleBinding } from 'kubernetes-types/rbac/v1.js';
export type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

import type { Pod } from 'kubernetes-types/core/v1.js';

/** A pod as the agent handles it: every defaulted field filled in. */
export type DefaultedPod = Pod & {
  metadata: NonNullable<Pod['metadata']> & { name: string; namespace: string; uid: string };
  spec: NonNullable<Pod['spec']>;
};

/** "<namespace>/<name>" of any namespaced object. */
export function namespacedName(object: { metadata?: { name?: string; namespace?: string } }): string {
  return `${object.metadata?.namespace ?? 'default'}/${object.metadata?.name ?? ''}`;
}

/** "<namespace>/<name>": the kubelet's pod full name, used in logs and for static-pod exclusivity. */
export const podFullName: (pod: { metadata?: { name?: string; namespace?: string } }) => string = namespacedName;
