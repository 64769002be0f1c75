/** Label and annotation keys: the kubelet's own, dockershim's, and dockerlet's. One place for all. */

/** Annotations the kubelet puts on pods (pkg/kubelet/types/pod_update.go). */
export const ConfigSourceAnnotation = 'kubernetes.io/config.source';
export const ConfigHashAnnotation = 'kubernetes.io/config.hash';
export const ConfigSeenAnnotation = 'kubernetes.io/config.seen';
export const ConfigMirrorAnnotation = 'kubernetes.io/config.mirror';

export type PodSource = 'file' | 'http' | 'api';

/** Labels on every Docker container dockerlet creates (dockershim / cri-dockerd names). */
export const PodNameLabel = 'io.kubernetes.pod.name';
export const PodNamespaceLabel = 'io.kubernetes.pod.namespace';
export const PodUIDLabel = 'io.kubernetes.pod.uid';
export const ContainerNameLabel = 'io.kubernetes.container.name';
export const ContainerTypeLabel = 'io.kubernetes.docker.type';
export const SandboxIDLabel = 'io.kubernetes.sandbox.id';
export const TerminationGracePeriodLabel = 'io.kubernetes.pod.terminationGracePeriod';
export const TerminationMessagePathLabel = 'io.kubernetes.container.terminationMessagePath';
export const TerminationMessagePolicyLabel = 'io.kubernetes.container.terminationMessagePolicy';
/** The container's preStop handler and ports, as JSON: killing it needs them when its pod spec is gone. */
export const PreStopHandlerLabel = 'io.kubernetes.container.preStopHandler';
export const ContainerPortsLabel = 'io.kubernetes.container.ports';

export type ContainerType = 'podsandbox' | 'container';

/** dockerlet's own labels: what adoption after a restart needs. */
export const NodeLabel = 'dockerlet.io/node';
export const ContainerHashLabel = 'dockerlet.io/container-hash';
export const RestartCountLabel = 'dockerlet.io/restart-count';
export const SandboxAttemptLabel = 'dockerlet.io/attempt';
/** "init" for init containers (sidecars included), "regular" otherwise. */
export const ContainerKindLabel = 'dockerlet.io/container-kind';

/** The name a pod sandbox's container carries in place of a container name. */
export const SandboxContainerName = 'POD';

/** Storage: the provisioner of dockerlet's local volumes, its default StorageClass, and the annotations the PV controller and scheduler use. */
export const LocalPathProvisioner = 'dockerlet.io/local-path';
export const DefaultStorageClassName = 'standard';
export const IsDefaultClassAnnotation = 'storageclass.kubernetes.io/is-default-class';
export const ProvisionedByAnnotation = 'pv.kubernetes.io/provisioned-by';
/** On a claim a lone host lists as Pending: why it is not bound yet (a PVC's status has no place for it). */
export const PendingReasonAnnotation = 'dockerlet.io/pending-reason';
