/**
 * Runtime-neutral sandbox and container configs -> Docker create options, the way
 * cri-dockerd maps CRI onto Docker: the sandbox owns the network, IPC (and, when shared, PID)
 * namespaces, and every container joins them with `container:<sandbox>`.
 */
import { posix } from 'node:path';
import type { ContainerCreateOptions, MountSettings } from 'dockerode';
import {
  ContainerHashLabel,
  ContainerKindLabel,
  ContainerNameLabel,
  ContainerTypeLabel,
  NodeLabel,
  PodNameLabel,
  PodNamespaceLabel,
  PodUIDLabel,
  RestartCountLabel,
  SandboxAttemptLabel,
  SandboxContainerName,
  SandboxIDLabel,
} from '../../../common/api/well-known.js';
import type { CgroupDriver, ContainerConfig, PodRef, SandboxConfig, SeccompProfile } from '../runtime.js';
import { dockerContainerName, dockerSandboxName } from './naming.js';

export interface DockerHostSettings {
  nodeName: string;
  /** The Docker network pods join. */
  networkName: string;
  podInfraImage: string;
  logMaxSize: string;
  logMaxFiles: number;
}

function podLabels(settings: DockerHostSettings, pod: PodRef): Record<string, string> {
  return {
    [NodeLabel]: settings.nodeName,
    [PodNameLabel]: pod.name,
    [PodNamespaceLabel]: pod.namespace,
    [PodUIDLabel]: pod.uid,
  };
}

/**
 * Docker's SecurityOpt for a seccomp profile, as cri-dockerd gives it: seccomp=unconfined,
 * nothing for Docker's default profile, or a Localhost profile's JSON (`localhostJson`, read by
 * the caller).
 */
export function seccompSecurityOpt(profile: SeccompProfile, localhostJson?: string): string[] {
  if (profile.type === 'Unconfined') return ['seccomp=unconfined'];
  if (profile.type === 'RuntimeDefault') return [];
  return [`seccomp=${localhostJson ?? ''}`];
}

/** A pod sandbox's oom_score_adj: below every container's, as containerd's and dockershim's. */
export const SandboxOOMScoreAdj = -998;

/** What the engine's host allows: the lowest OOM score it can set (see oom-score-floor.ts); and its cgroup driver (`docker info`). */
export interface EngineHost {
  oomScoreFloor: number;
  cgroupDriver: CgroupDriver;
}

/**
 * A cgroup path as Docker's CgroupParent takes it for the engine's driver, as cri-dockerd
 * converts a sandbox's: the path itself with cgroupfs, the innermost slice's name with systemd
 * (whose name spells its ancestors).
 */
export function dockerCgroupParent(path: string, driver: CgroupDriver): string {
  return driver === 'systemd' ? posix.basename(path) : path;
}

function logConfig(settings: DockerHostSettings): NonNullable<ContainerCreateOptions['HostConfig']>['LogConfig'] {
  return { Type: 'json-file', Config: { 'max-size': settings.logMaxSize, 'max-file': String(settings.logMaxFiles) } };
}

export function sandboxCreateOptions(settings: DockerHostSettings, config: SandboxConfig, seccomp: readonly string[], host: EngineHost): ContainerCreateOptions {
  const exposedPorts: Record<string, object> = {};
  const portBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const mapping of config.portMappings) {
    const key = `${mapping.containerPort}/${mapping.protocol.toLowerCase()}`;
    exposedPorts[key] = {};
    (portBindings[key] ??= []).push({ HostIp: mapping.hostIP ?? '', HostPort: String(mapping.hostPort) });
  }
  return {
    name: dockerSandboxName(config.pod, config.attempt),
    Image: settings.podInfraImage,
    ...(config.hostNetwork ? {} : { Hostname: config.hostname }),
    Labels: {
      ...config.labels,
      ...podLabels(settings, config.pod),
      [ContainerNameLabel]: SandboxContainerName,
      [ContainerTypeLabel]: 'podsandbox',
      [SandboxAttemptLabel]: String(config.attempt),
    },
    ExposedPorts: exposedPorts,
    HostConfig: {
      NetworkMode: config.hostNetwork ? 'host' : settings.networkName,
      ...(config.hostNetwork ? { UTSMode: 'host' } : {}),
      IpcMode: config.hostIPC ? 'host' : 'shareable',
      ...(config.hostPID ? { PidMode: 'host' } : {}),
      PortBindings: config.hostNetwork ? {} : portBindings,
      RestartPolicy: { Name: 'no' },
      LogConfig: logConfig(settings),
      ...(config.cgroupParent ? { CgroupParent: dockerCgroupParent(config.cgroupParent, host.cgroupDriver) } : {}),
      OomScoreAdj: Math.max(SandboxOOMScoreAdj, host.oomScoreFloor),
      SecurityOpt: [...seccomp],
      ...(Object.keys(config.sysctls).length > 0 ? { Sysctls: config.sysctls } : {}),
    },
  };
}

/** The sandbox a container joins: its ID, its pod, and the cgroup parent it was given (Docker's spelling), which its containers get too. */
export interface JoinedSandbox {
  id: string;
  pod: PodRef;
  cgroupParent?: string;
}

export function containerCreateOptions(
  settings: DockerHostSettings,
  sandbox: JoinedSandbox,
  config: ContainerConfig,
  seccomp: readonly string[],
  host: EngineHost,
): ContainerCreateOptions {
  const { pod, id: sandboxId } = sandbox;
  const joinSandbox = `container:${sandboxId}`;
  const mounts: MountSettings[] = config.mounts.map((mount) => ({
    Type: 'bind',
    Source: mount.hostPath,
    Target: mount.containerPath,
    ReadOnly: mount.readOnly,
    ...(mount.propagation ? { BindOptions: { Propagation: mount.propagation } } : {}),
  }));
  const { resources, security } = config;
  return {
    name: dockerContainerName(config.name, pod, config.restartCount),
    Image: config.image,
    // Kubernetes `command` replaces the entrypoint and drops the image's cmd; `args` replaces the cmd.
    ...(config.command ? { Entrypoint: config.command, Cmd: config.args ?? [] } : {}),
    ...(!config.command && config.args ? { Cmd: config.args } : {}),
    Env: config.env.map(({ name, value }) => `${name}=${value}`),
    ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
    ...(security.user !== undefined ? { User: security.user } : {}),
    Tty: config.tty,
    OpenStdin: config.stdin,
    StdinOnce: config.stdinOnce,
    // The kubelet's probes judge a container's health, not the image's HEALTHCHECK.
    Healthcheck: { Test: ['NONE'] },
    Labels: {
      ...config.labels,
      ...podLabels(settings, pod),
      [ContainerNameLabel]: config.name,
      [ContainerTypeLabel]: 'container',
      [SandboxIDLabel]: sandboxId,
      [ContainerHashLabel]: config.hash,
      [RestartCountLabel]: String(config.restartCount),
      [ContainerKindLabel]: config.kind,
    },
    HostConfig: {
      NetworkMode: joinSandbox,
      IpcMode: security.hostIPC ? 'host' : joinSandbox,
      ...(security.hostPID ? { PidMode: 'host' } : security.sharePid ? { PidMode: joinSandbox } : {}),
      Mounts: mounts,
      RestartPolicy: { Name: 'no' },
      LogConfig: logConfig(settings),
      ...(sandbox.cgroupParent ? { CgroupParent: sandbox.cgroupParent } : {}),
      OomScoreAdj: Math.max(resources.oomScoreAdj, host.oomScoreFloor),
      ...(security.supplementalGroups.length > 0 ? { GroupAdd: security.supplementalGroups.map(String) } : {}),
      Privileged: security.privileged,
      ReadonlyRootfs: security.readOnlyRootFilesystem,
      CapAdd: security.capAdd,
      CapDrop: security.capDrop,
      SecurityOpt: [...seccomp, ...(security.noNewPrivileges ? ['no-new-privileges'] : [])],
      ...(resources.memoryLimitBytes !== undefined
        ? { Memory: resources.memoryLimitBytes, MemorySwap: resources.memoryLimitBytes }
        : {}),
      ...(resources.cpuShares !== undefined ? { CpuShares: resources.cpuShares } : {}),
      ...(resources.cpuQuota !== undefined ? { CpuQuota: resources.cpuQuota, CpuPeriod: resources.cpuPeriod } : {}),
    },
  };
}
