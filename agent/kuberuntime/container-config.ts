/**
 * Pod spec -> runtime configs for a pod's sandbox and containers (kuberuntime's
 * generateContainerConfig and podSandboxConfig): environment, resources, security context and
 * the files the kubelet manages inside every container.
 */
import { posix } from 'node:path';
import type { Container, DefaultedPod, SeccompProfile as SeccompProfileSpec } from '../../common/api/types.js';
import { containerHash, podHostname } from '../../common/api/pod-helpers.js';
import { milliCpu, parseQuantity } from '../../common/api/quantity.js';
import {
  TerminationGracePeriodLabel,
  TerminationMessagePathLabel,
  TerminationMessagePolicyLabel,
} from '../../common/api/well-known.js';
import { podRef, type ContainerConfig, type ContainerKind, type Mount, type PortMapping, type SandboxConfig, type SeccompProfile } from '../runtime/runtime.js';
import type { RootDir } from '../volumes/root-dir.js';
import { containerSpecLabels } from './container-labels.js';
import { containerOOMScoreAdj } from '../qos/qos-policy.js';
import { milliCpuToQuota, milliCpuToShares, QuotaPeriodUs } from '../qos/qos-cgroups.js';
import { expandVariables } from '../envvars/env.js';

/**
 * The seccomp profile that applies (the container's, else the pod's): Unconfined when none is
 * set, as the kubelet without --seccomp-default gives it.
 */
export function seccompProfile(rootDir: RootDir, ...candidates: Array<SeccompProfileSpec | undefined>): SeccompProfile {
  const profile = candidates.find((candidate) => candidate !== undefined);
  if (profile?.type === 'RuntimeDefault') return { type: 'RuntimeDefault' };
  if (profile?.type === 'Localhost' && profile.localhostProfile) return { type: 'Localhost', path: rootDir.seccompProfilePath(profile.localhostProfile) };
  return { type: 'Unconfined' };
}

/** The sandbox's config; `cgroupParent` is the pod's cgroup (the QoS container manager's), where it has one. */
export function sandboxConfig(pod: DefaultedPod, attempt: number, rootDir: RootDir, cgroupParent?: string): SandboxConfig {
  const portMappings: PortMapping[] = [];
  for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const port of container.ports ?? []) {
      if (!port.hostPort) continue;
      portMappings.push({
        containerPort: port.containerPort,
        hostPort: port.hostPort,
        protocol: port.protocol as PortMapping['protocol'],
        ...(port.hostIP ? { hostIP: port.hostIP } : {}),
      });
    }
  }
  return {
    pod: podRef(pod),
    attempt,
    ...(cgroupParent ? { cgroupParent } : {}),
    seccomp: seccompProfile(rootDir, pod.spec.securityContext?.seccompProfile),
    sysctls: Object.fromEntries((pod.spec.securityContext?.sysctls ?? []).map(({ name, value }) => [name, value])),
    hostname: podHostname(pod),
    hostNetwork: pod.spec.hostNetwork === true,
    hostIPC: pod.spec.hostIPC === true,
    hostPID: pod.spec.hostPID === true,
    portMappings,
    labels: { [TerminationGracePeriodLabel]: String(pod.spec.terminationGracePeriodSeconds ?? 30) },
  };
}

export interface ContainerConfigContext {
  pod: DefaultedPod;
  rootDir: RootDir;
  restartCount: number;
  /** The container's environment, already made (makeEnvironment). */
  env: ReadonlyArray<{ name: string; value: string }>;
  /** Volume mounts, already resolved to host paths (containerMounts). */
  volumeMounts: readonly Mount[];
  /** The node's memory, which a Burstable container's OOM score is reckoned against. */
  memoryCapacityBytes: number;
}

export function containerConfig(container: Container, kind: ContainerKind, ctx: ContainerConfigContext): ContainerConfig {
  const { pod, rootDir } = ctx;
  const lookup = new Map(ctx.env.map(({ name, value }) => [name, value]));
  const expand = (text: string): string => expandVariables(text, (name) => lookup.get(name));

  const uid = pod.metadata.uid;
  const mounts: Mount[] = [...ctx.volumeMounts];
  // The managed files go where the container mounts nothing of its own (makeMounts: a volume at /etc/hosts wins).
  const mountsItself = (path: string): boolean => ctx.volumeMounts.some((mount) => posix.normalize(`${mount.containerPath}/`) === `${path}/`);
  if (pod.spec.hostNetwork !== true && !mountsItself('/etc/hosts')) mounts.push({ hostPath: rootDir.etcHostsPath(uid), containerPath: '/etc/hosts', readOnly: false });
  if (!mountsItself('/etc/resolv.conf')) mounts.push({ hostPath: rootDir.resolvConfPath(uid), containerPath: '/etc/resolv.conf', readOnly: false });
  if (container.terminationMessagePath) {
    const hostPath = rootDir.terminationMessagePath(uid, container.name, ctx.restartCount);
    mounts.push({ hostPath, containerPath: container.terminationMessagePath, readOnly: false });
  }

  const limits = container.resources?.limits ?? {};
  const requests = container.resources?.requests ?? {};
  // A zero limit is no limit (kuberuntime: memoryLimit != 0; milliCPUToQuota(0) = 0).
  const memoryLimit = limits['memory'] !== undefined ? parseQuantity(limits['memory']) || undefined : undefined;
  const cpuLimit = limits['cpu'] !== undefined ? milliCpu(limits['cpu']) || undefined : undefined;
  // Shares follow the request; with no request but a limit, the limit (as the kubelet does).
  const cpuRequest = (requests['cpu'] !== undefined ? milliCpu(requests['cpu']) : undefined) || cpuLimit || 0;

  const podSecurity = pod.spec.securityContext ?? {};
  const security = container.securityContext ?? {};
  const runAsUser = security.runAsUser ?? podSecurity.runAsUser;
  const runAsGroup = security.runAsGroup ?? podSecurity.runAsGroup;
  const user = runAsUser !== undefined ? (runAsGroup !== undefined ? `${runAsUser}:${runAsGroup}` : String(runAsUser)) : undefined;
  // determineEffectiveSecurityContext: the fsGroup first, then the pod's supplementalGroups.
  const supplementalGroups = [...(podSecurity.fsGroup !== undefined ? [podSecurity.fsGroup] : []), ...(podSecurity.supplementalGroups ?? [])];

  return {
    name: container.name,
    kind,
    restartCount: ctx.restartCount,
    hash: containerHash(container),
    image: container.image!,
    ...(container.command ? { command: container.command.map(expand) } : {}),
    ...(container.args ? { args: container.args.map(expand) } : {}),
    env: [...ctx.env],
    ...(container.workingDir ? { workingDir: container.workingDir } : {}),
    mounts,
    stdin: container.stdin === true,
    stdinOnce: container.stdinOnce === true,
    tty: container.tty === true,
    resources: {
      oomScoreAdj: containerOOMScoreAdj(pod, container, ctx.memoryCapacityBytes),
      ...(memoryLimit !== undefined ? { memoryLimitBytes: Math.ceil(memoryLimit) } : {}),
      cpuShares: milliCpuToShares(cpuRequest),
      ...(cpuLimit !== undefined ? { cpuQuota: milliCpuToQuota(cpuLimit), cpuPeriod: QuotaPeriodUs } : {}),
    },
    security: {
      ...(user !== undefined ? { user } : {}),
      supplementalGroups,
      privileged: security.privileged === true,
      readOnlyRootFilesystem: security.readOnlyRootFilesystem === true,
      capAdd: security.capabilities?.add ?? [],
      capDrop: security.capabilities?.drop ?? [],
      noNewPrivileges: security.allowPrivilegeEscalation === false,
      seccomp: seccompProfile(rootDir, security.seccompProfile, podSecurity.seccompProfile),
      sharePid: pod.spec.shareProcessNamespace === true,
      hostPID: pod.spec.hostPID === true,
      hostIPC: pod.spec.hostIPC === true,
    },
    labels: {
      ...containerSpecLabels(container),
      [TerminationGracePeriodLabel]: String(pod.spec.terminationGracePeriodSeconds ?? 30),
      ...(container.terminationMessagePath
        ? {
            [TerminationMessagePathLabel]: container.terminationMessagePath,
            [TerminationMessagePolicyLabel]: container.terminationMessagePolicy ?? 'File',
          }
        : {}),
    },
  };
}
