/**
 * The container runtime, as the kubelet sees it (in the spirit of CRI): pod sandboxes and
 * containers, described in runtime-neutral terms. `runtime/docker` is the only implementation
 * and the only place that knows Docker; nothing here mentions it.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type { DefaultedPod } from '../../common/api/types.js';

export interface PodRef {
  uid: string;
  name: string;
  namespace: string;
}

export function podRef(pod: DefaultedPod): PodRef {
  return { uid: pod.metadata.uid, name: pod.metadata.name, namespace: pod.metadata.namespace };
}

/** "<name>_<namespace>(<uid>)": how the kubelet names a pod in messages (format.Pod). */
export function podLabel(pod: PodRef): string {
  return `${pod.name}_${pod.namespace}(${pod.uid})`;
}

/** Registry credentials for a pull, as the Docker engine takes them (X-Registry-Auth). */
export interface RegistryAuth {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** Times are milliseconds since the epoch. */
export interface SandboxStatus {
  id: string;
  pod: PodRef;
  attempt: number;
  state: 'ready' | 'notready';
  createdAt: number;
  hostNetwork: boolean;
  /** The pod IP; absent for hostNetwork sandboxes and sandboxes that are not running. */
  ip?: string;
}

export type RuntimeContainerState = 'created' | 'running' | 'exited';

/** Regular init containers and sidecars are both "init"; app containers are "regular". */
export type ContainerKind = 'init' | 'regular';

export interface RuntimeContainerStatus {
  id: string;
  /** The container's name in the pod spec. */
  name: string;
  pod: PodRef;
  sandboxId: string;
  kind: ContainerKind;
  state: RuntimeContainerState;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  /** Terminated reason: OOMKilled, Completed, Error or ContainerCannotRun. */
  reason?: string;
  message?: string;
  /** The image as the spec names it. */
  image: string;
  /** The image's resolved identity (digest or ID). */
  imageRef: string;
  /** Hash of the container spec it was created from. */
  hash: string;
  restartCount: number;
  /** Host path of the file bind-mounted at the container's terminationMessagePath. */
  terminationMessageHostPath?: string;
  /** The labels the container was created with (ContainerConfig.labels among them). */
  labels: Readonly<Record<string, string>>;
}

/** What one pod looks like in the runtime; lists are newest first. */
export interface RuntimePodStatus {
  pod: PodRef;
  sandboxes: SandboxStatus[];
  containers: RuntimeContainerStatus[];
}

/** The cheap listing PLEG relists with: ids and states only. */
export interface RunningPod {
  pod: PodRef;
  /** Grace period the pod was created with, for killing it when its spec is gone. */
  terminationGracePeriodSeconds?: number;
  sandboxes: Array<{ id: string; state: SandboxStatus['state']; createdAt: number }>;
  containers: Array<{ id: string; name: string; image: string; state: RuntimeContainerState; createdAt: number }>;
}

export interface PortMapping {
  containerPort: number;
  hostPort: number;
  hostIP?: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** How a runtime's cgroups are named (CRI's CgroupDriver): paths of the cgroup file system's own, or systemd slices. */
export type CgroupDriver = 'cgroupfs' | 'systemd';

/** Where the runtime puts containers (CRI's RuntimeConfig): the cgroup driver it names cgroups with, and the host's cgroup version. */
export interface RuntimeCgroups {
  driver: CgroupDriver;
  version: 1 | 2;
}

/**
 * A seccomp profile as the kubelet hands it to the runtime: none at all (Unconfined, the
 * kubelet's default), the runtime's own default, or a JSON profile file on the node.
 */
export type SeccompProfile = { type: 'Unconfined' } | { type: 'RuntimeDefault' } | { type: 'Localhost'; path: string };

export interface SandboxConfig {
  pod: PodRef;
  attempt: number;
  /**
   * The cgroup the sandbox and its pod's containers go in, as a path in the hierarchy named the
   * way the runtime's cgroup driver names it (`/dockerlet/burstable/pod<uid>`, or
   * `/dockerlet.slice/dockerlet-burstable.slice/dockerlet-burstable-pod<uid>.slice`); without
   * one, the runtime's default.
   */
  cgroupParent?: string;
  /** The pod-level profile. */
  seccomp: SeccompProfile;
  /** The pod's sysctls (admitted by the node's allowlist), set in its namespaces. */
  sysctls: Record<string, string>;
  hostname: string;
  hostNetwork: boolean;
  hostIPC: boolean;
  hostPID: boolean;
  portMappings: PortMapping[];
  /** Extra labels to keep on the sandbox (e.g. the pod's grace period). */
  labels: Record<string, string>;
}

export interface Mount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
  propagation?: 'private' | 'rslave' | 'rshared';
}

export interface ContainerConfig {
  name: string;
  kind: ContainerKind;
  restartCount: number;
  hash: string;
  image: string;
  /** Replaces the image's entrypoint when set (Kubernetes `command`). */
  command?: string[];
  /** Replaces the image's cmd when set (Kubernetes `args`); with `command` and no args, the cmd is emptied. */
  args?: string[];
  env: Array<{ name: string; value: string }>;
  workingDir?: string;
  mounts: Mount[];
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  resources: {
    /** For the kernel's OOM killer: -997 (last) for Guaranteed, 1000 (first) for BestEffort. */
    oomScoreAdj: number;
    memoryLimitBytes?: number;
    cpuShares?: number;
    cpuQuota?: number;
    cpuPeriod?: number;
  };
  security: {
    /** "uid" or "uid:gid". */
    user?: string;
    /** Groups the container's processes are in besides the user's own (the pod's fsGroup and supplementalGroups). */
    supplementalGroups: number[];
    privileged: boolean;
    readOnlyRootFilesystem: boolean;
    capAdd: string[];
    capDrop: string[];
    noNewPrivileges: boolean;
    seccomp: SeccompProfile;
    /** Join the sandbox's PID namespace (shareProcessNamespace). */
    sharePid: boolean;
    hostPID: boolean;
    hostIPC: boolean;
  };
  /** Extra labels to keep on the container. */
  labels: Record<string, string>;
}

export interface LogOptions {
  follow: boolean;
  timestamps: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  signal?: AbortSignal;
}

export type RuntimeEventType = 'created' | 'started' | 'died' | 'removed';

export interface RuntimeEvent {
  type: RuntimeEventType;
  containerId: string;
  podUID: string;
  /** The Kubernetes container name, or POD for a sandbox. */
  containerName: string;
  time: number;
}

export interface RuntimeEventHandlers {
  onEvent(event: RuntimeEvent): void;
  /** The event stream (re)connected: anything may have happened while it was down. */
  onConnected(): void;
  onDisconnected(err: unknown): void;
}

/** What a command run in a container left: its exit code and its output (stdout and stderr, interleaved, capped). */
export interface ExecResult {
  exitCode: number;
  output: string;
}

export interface ExecOptions {
  /** Give up waiting after this long; the command may go on running in the container. */
  timeoutMs?: number;
  /** Keep at most this many bytes of output (the first ones). */
  maxOutputBytes: number;
}

/** Which of a process's standard streams a client attaches to (remotecommand's stdin, stdout, stderr and tty). */
export interface StreamSelection {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** A terminal: output comes on stdout alone, and the client may resize it. */
  tty: boolean;
}

export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * A process a client is attached to through the runtime: a command exec'd in a container, or a
 * container's own process (attach). A stream is present when it was selected; with a TTY,
 * stderr is absent and everything comes on stdout.
 */
export interface AttachedProcess {
  stdin: Writable | undefined;
  stdout: Readable | undefined;
  stderr: Readable | undefined;
  resize(size: TerminalSize): Promise<void>;
  /**
   * Settles once the output has ended: with the exit code of an exec'd command, or of an
   * attached container that exited; without one when the connection to the runtime ended first.
   */
  exited: Promise<{ exitCode?: number }>;
  /** Ends the connection to the runtime. An exec'd command may go on running, as with Docker. */
  detach(): void;
}

export interface ImageInfo {
  id: string;
  /** The digest reference when the image came from a registry, else the ID. */
  ref: string;
  /** The user the image runs as (its config's User: "1000", "nobody", "1000:1000"); empty for root by default. */
  user: string;
}

/** An image on the engine, as image garbage collection weighs it. */
export interface RuntimeImage {
  id: string;
  /** Its repo:tag names; none for an image known only by its ID. */
  repoTags: string[];
  sizeBytes: number;
}

export interface RuntimeVersion {
  name: string;
  version: string;
  apiVersion: string;
}

/** One sample of a running container's resource usage (the Summary API's container stats). */
export interface ContainerStats {
  /** When the sample was taken, ms since the epoch. */
  timestamp: number;
  cpuUsageCoreNanoSeconds: number;
  memory: { usageBytes: number; workingSetBytes: number; rssBytes: number; pageFaults: number; majorPageFaults: number };
  /** The interfaces of its network namespace, for a container that has one of its own (a sandbox). */
  networks?: Array<{ name: string; rxBytes: number; rxErrors: number; txBytes: number; txErrors: number }>;
}

/** What a container keeps on the node's disk: its writable layer and its log files, rotated ones included. */
export interface ContainerFsUsage {
  writableLayerBytes: number;
  logsBytes: number;
}

export interface ContainerRuntime {
  version(): Promise<RuntimeVersion>;
  listPods(): Promise<RunningPod[]>;
  getPodStatus(pod: PodRef): Promise<RuntimePodStatus>;

  imageStatus(image: string): Promise<ImageInfo | undefined>;
  /**
   * Pulls `image`, with `auth` when given (else anonymously). Rejects when the pull makes no
   * progress for the runtime's progress deadline, or when `signal` aborts.
   */
  pullImage(image: string, auth?: RegistryAuth, signal?: AbortSignal): Promise<ImageInfo>;
  /** Every image on the engine. */
  listImages(): Promise<RuntimeImage[]>;
  /** The IDs of the images containers on the engine were made from, running or not, whoever made them. */
  imagesInUse(): Promise<Set<string>>;
  /** Removes an image and all its names; rejects when a container still uses it. */
  removeImage(id: string): Promise<void>;
  /** A directory on the file system that holds the engine's images and containers' writable layers: the image fs. */
  imageFsPath(): string;

  /** A sample of a running container's usage; undefined when it is not running (or gone). */
  containerStats(id: string): Promise<ContainerStats | undefined>;
  /** The container's writable layer and logs on disk, running or not; undefined when it is gone. */
  containerFsUsage(id: string): Promise<ContainerFsUsage | undefined>;

  runPodSandbox(config: SandboxConfig): Promise<string>;
  /** One sandbox's status (its IP among it), as CRI's PodSandboxStatus; undefined when it is gone. */
  podSandboxStatus(id: string): Promise<SandboxStatus | undefined>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;

  createContainer(sandboxId: string, config: ContainerConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /**
   * SIGTERM (or the image's stop signal), then SIGKILL after `gracePeriodSeconds`. `signal`
   * stops the waiting (it rejects with the signal's reason); the engine finishes the stop itself.
   */
  stopContainer(id: string, gracePeriodSeconds: number, signal?: AbortSignal): Promise<void>;
  removeContainer(id: string): Promise<void>;

  containerLogs(id: string, options: LogOptions): Promise<Readable>;
  /**
   * Runs `command` in the running container `id` and waits for it (CRI ExecSync). Rejects with
   * an ExecTimeoutError when `timeoutMs` passes first.
   */
  execSync(id: string, command: readonly string[], options: ExecOptions): Promise<ExecResult>;
  /** Starts `command` in the running container `id` with the selected streams attached (CRI Exec). */
  exec(id: string, command: readonly string[], streams: StreamSelection): Promise<AttachedProcess>;
  /** Attaches the selected streams to the running container's own process (CRI Attach). */
  attach(id: string, streams: StreamSelection): Promise<AttachedProcess>;
  /** A TCP connection to `port` on localhost inside the sandbox's network namespace (CRI PortForward). */
  portForward(sandboxId: string, port: number): Promise<Duplex>;

  /** Starts delivering events; returns a function that stops them. */
  watchEvents(handlers: RuntimeEventHandlers): () => void;
}

/** An execSync that did not finish within its timeout. */
export class ExecTimeoutError extends Error {
  constructor(readonly command: readonly string[], readonly timeoutMs: number) {
    super(`command ${JSON.stringify(command.join(' '))} timed out`);
    this.name = 'ExecTimeoutError';
  }
}

/** The kubelet's runtime-network condition, in its words, with why the network is not ready. */
export function runtimeNetworkNotReady(message: string): string {
  return `container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:dockerlet: ${message}`;
}

/** Why a node that takes its pod subnet from its Node cannot start a pod's network yet. */
export const NoPodCIDRYet = runtimeNetworkNotReady("no pod CIDR yet: waiting for the Node's spec.podCIDR");
