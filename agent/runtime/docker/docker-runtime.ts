/**
 * ContainerRuntime on the Docker engine, through dockerode. The only module that talks to
 * Docker. Every call that is expected to be quick carries the runtime request timeout; Docker's
 * 304 ("already stopped") and 404 ("already gone") count as success where the caller asked
 * for that state anyway.
 */
import { readFile } from 'node:fs/promises';
import { Readable, type Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { dockerClient } from './dockerode.js';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../../common/api/errors.js';
import { ContainerTypeLabel, NodeLabel, PodUIDLabel } from '../../../common/api/well-known.js';
import {
  NoPodCIDRYet,
  type AttachedProcess,
  type ContainerConfig,
  type ContainerRuntime,
  type ContainerFsUsage,
  type ContainerStats,
  type ExecOptions,
  type ExecResult,
  type ImageInfo,
  type LogOptions,
  type PodRef,
  type RegistryAuth,
  type RunningPod,
  type RuntimeCgroups,
  type RuntimeEventHandlers,
  type RuntimeImage,
  type RuntimePodStatus,
  type RuntimeVersion,
  type SandboxConfig,
  type SandboxStatus,
  type SeccompProfile,
  type StreamSelection,
} from '../runtime.js';
import { delay, withTimeout } from '../../../common/util/clock.js';
import { formatDuration } from '../../../common/util/duration.js';
import { containerCreateOptions, sandboxCreateOptions, seccompSecurityOpt, type DockerHostSettings, type EngineHost } from './create-options.js';
import { oomScoreFloor } from './oom-score-floor.js';
import { dockerMessage, isDockerConflict, isDockerNotFound, isDockerNotModified } from './docker-errors.js';
import { watchDockerEvents } from './events.js';
import { dockerExecSync } from './exec.js';
import { logFilesBytes } from './log-files.js';
import { demuxLogBuffer, demuxLogStream } from './logs.js';
import { BridgeHairpin, ensurePodNetwork, type PodNetworkSettings } from './network.js';
import { dockerPortForward } from './port-forward.js';
import { containerStatsFromDocker, type DockerStats } from './stats.js';
import { containerStatus, groupRunningPods, sandboxStatus } from './status.js';
import { dockerAttach, dockerExec, type StreamingDeps } from './streaming.js';

export interface DockerRuntimeOptions extends DockerHostSettings {
  /** The engine's endpoint: a unix socket path. */
  socketPath: string;
  /** The pod network; without a subnet, none until updatePodCIDR() gives one (a node that takes it from its Node). */
  network: Omit<PodNetworkSettings, 'subnet'> & { subnet?: string };
  /** runtimeRequestTimeout, in ms. */
  requestTimeoutMs: number;
  /** A pull that reports no progress for this long is cancelled (imagePullProgressDeadline), in ms. */
  pullProgressDeadlineMs: number;
  logger: Logger;
}

/** How recent an exit must be for its OOM flag to be awaited, and the waits before each new inspect (about a second in all). */
const OomSettleMs = 2_000;
const OomRecheckMs = [50, 100, 200, 300, 400];

export class DockerRuntime implements ContainerRuntime {
  readonly #docker: Dockerode;
  readonly #options: DockerRuntimeOptions;
  readonly #log: Logger;
  readonly #hairpin: BridgeHairpin;
  /** Image ID -> its reference for status; image contents never change under an ID. */
  readonly #imageRefs = new Map<string, string>();
  readonly #streaming: StreamingDeps;
  #oomScoreFloor = 0;
  /** The engine's cgroup driver and the host's cgroup version (`docker info`); none when it runs containers without cgroups of their own. */
  #cgroups: RuntimeCgroups | undefined;
  /** The engine's data root (`docker info`): where its images and containers' layers live. */
  #dataRoot = '/var/lib/docker';
  /** Whether the pod network exists with its subnet (known at start, or given by updatePodCIDR()). */
  #podNetworkReady = false;

  constructor(options: DockerRuntimeOptions) {
    this.#options = options;
    this.#docker = dockerClient(options.socketPath);
    this.#log = options.logger.child({ component: 'docker-runtime' });
    this.#hairpin = new BridgeHairpin(options.network.bridgeName);
    this.#streaming = { docker: this.#docker, quick: () => this.#quick(), log: this.#log };
  }

  /** Checks the engine answers and, when its subnet is known, that the pod network exists (creating it if needed). */
  async start(): Promise<RuntimeVersion> {
    const version = await this.version();
    const info = (await withTimeout(this.#docker.info(), this.#options.requestTimeoutMs)) as EngineCgroupInfo & { DockerRootDir?: string };
    if (info.DockerRootDir) this.#dataRoot = info.DockerRootDir;
    this.#cgroups = engineCgroups(info);
    this.#oomScoreFloor = await oomScoreFloor();
    if (this.#oomScoreFloor > -1000) {
      this.#log.warn({ oomScoreFloor: this.#oomScoreFloor }, 'this host does not let the agent lower OOM scores (no CAP_SYS_RESOURCE, as in a container): no container gets a score below the floor, Guaranteed pods and sandboxes included');
    }
    const { subnet } = this.#options.network;
    if (subnet !== undefined) await this.updatePodCIDR(subnet);
    return version;
  }

  /**
   * The pod network's subnet (CRI's UpdateRuntimeConfig with the node's pod CIDR): the network
   * is made with it, or checked to have it. Until then a sandbox that is not on the host's
   * network cannot start.
   */
  async updatePodCIDR(subnet: string): Promise<void> {
    await ensurePodNetwork(this.#docker, { ...this.#options.network, subnet }, this.#quick());
    this.#podNetworkReady = true;
    // Sandboxes started by an earlier agent, or before a Docker restart, get it too.
    await this.#hairpin.enable();
  }

  async version(): Promise<RuntimeVersion> {
    try {
      const version = await withTimeout(this.#docker.version(), this.#options.requestTimeoutMs);
      return { name: 'docker', version: version.Version, apiVersion: version.ApiVersion };
    } catch (err) {
      throw new DockerletError(
        'DKL_ERR_RUNTIME_UNAVAILABLE',
        `the Docker engine at ${this.#options.socketPath} does not answer (${dockerMessage(err)}): start it, or run scripts/setup-host.sh`,
        { cause: err },
      );
    }
  }

  async listPods(): Promise<RunningPod[]> {
    const listing = await this.#docker.listContainers({
      all: true,
      filters: { label: [`${NodeLabel}=${this.#options.nodeName}`] },
      abortSignal: this.#quick(),
    });
    return groupRunningPods(listing);
  }

  async getPodStatus(pod: PodRef): Promise<RuntimePodStatus> {
    const listing = await this.#docker.listContainers({
      all: true,
      filters: { label: [`${NodeLabel}=${this.#options.nodeName}`, `${PodUIDLabel}=${pod.uid}`] },
      abortSignal: this.#quick(),
    });
    const inspected = await Promise.all(listing.map(async (info) => this.#settledOom(await this.#inspect(info.Id))));
    const status: RuntimePodStatus = { pod, sandboxes: [], containers: [] };
    for (const inspect of inspected) {
      if (!inspect) continue;
      if (inspect.Config.Labels?.[ContainerTypeLabel] === 'podsandbox') {
        status.sandboxes.push(sandboxStatus(inspect, this.#options.network.name));
      } else {
        status.containers.push(containerStatus(inspect, await this.#imageRef(inspect.Image)));
      }
    }
    status.sandboxes.sort((a, b) => b.attempt - a.attempt || b.createdAt - a.createdAt);
    status.containers.sort((a, b) => b.createdAt - a.createdAt || b.restartCount - a.restartCount);
    return status;
  }

  async containerStats(id: string): Promise<ContainerStats | undefined> {
    try {
      // one-shot: a single sample at once, without the second one Docker otherwise waits for.
      const raw = (await this.#docker.getContainer(id).stats({ stream: false, 'one-shot': true, abortSignal: this.#quick() } as never)) as unknown as DockerStats;
      return raw.cpu_stats?.cpu_usage?.total_usage ? containerStatsFromDocker(raw) : undefined;
    } catch (err) {
      if (isDockerNotFound(err)) return undefined;
      throw err;
    }
  }

  async imageStatus(image: string): Promise<ImageInfo | undefined> {
    try {
      const inspect = await this.#docker.getImage(image).inspect({ abortSignal: this.#quick() });
      return { id: inspect.Id, ref: await this.#imageRef(inspect.Id), user: inspect.Config?.User ?? '' };
    } catch (err) {
      if (isDockerNotFound(err)) return undefined;
      throw err;
    }
  }

  async listImages(): Promise<RuntimeImage[]> {
    const images = await this.#docker.listImages({ abortSignal: this.#quick() });
    return images.map((image) => ({
      id: image.Id,
      repoTags: (image.RepoTags ?? []).filter((tag) => tag !== '<none>:<none>'),
      sizeBytes: image.Size,
    }));
  }

  async imagesInUse(): Promise<Set<string>> {
    const containers = await this.#docker.listContainers({ all: true, abortSignal: this.#quick() });
    return new Set(containers.map((container) => container.ImageID));
  }

  async removeImage(id: string): Promise<void> {
    try {
      // Name by name, then by ID, never forced. The engine refuses only the last name's removal
      // when a container uses the image, or images are built on it: both are checked first, so
      // that a refused image keeps its names.
      const inspect = await this.#docker.getImage(id).inspect({ abortSignal: this.#quick() });
      const children = (await this.#docker.listImages({ all: true, abortSignal: this.#quick() })).filter((image) => image.ParentId === id);
      if (children.length > 0) throw new Error(`images ${children.map((child) => child.Id).join(', ')} are built on it`);
      const users = await this.#docker.listContainers({ all: true, filters: { ancestor: [id] }, abortSignal: this.#quick() });
      if (users.length > 0) throw new Error(`containers ${users.map((user) => user.Id.slice(0, 12)).join(', ')} use it`);
      for (const name of [...(inspect.RepoTags ?? []), id]) {
        try {
          await this.#docker.getImage(name).remove({ abortSignal: this.#quick() });
        } catch (err) {
          if (!isDockerNotFound(err)) throw err;
        }
      }
    } catch (err) {
      if (isDockerNotFound(err)) return;
      throw new DockerletError('DKL_ERR_RUNTIME', `cannot remove image ${id}: ${dockerMessage(err)}`, { cause: err });
    }
  }

  imageFsPath(): string {
    return this.#dataRoot;
  }

  /**
   * Pulls through Docker's progress stream; a pull that reports no progress for
   * pullProgressDeadlineMs (dockershim's image-pull-progress-deadline) is cancelled, as is one
   * whose `signal` aborts.
   */
  async pullImage(image: string, auth?: RegistryAuth, signal?: AbortSignal): Promise<ImageInfo> {
    signal?.throwIfAborted();
    const reference = /[:@][^/]+$/.test(image) ? image : `${image}:latest`;
    this.#log.debug({ image: reference, registry: auth?.serveraddress }, 'pulling image');
    const deadlineMs = this.#options.pullProgressDeadlineMs;
    // One abort for both causes, armed before the request: the engine may send nothing at all,
    // not even the answer's headers, while a registry does not answer.
    const cancel = new AbortController();
    const stalled = new Error(`the pull made no progress for ${formatDuration(deadlineMs)}; cancelled`);
    let timer: NodeJS.Timeout | undefined;
    const watch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => cancel.abort(stalled), deadlineMs);
      timer.unref();
    };
    const onAbort = (): void => cancel.abort(new Error('the pull was cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      watch();
      const stream = (await this.#docker.pull(reference, { ...(auth ? { authconfig: auth } : {}), abortSignal: cancel.signal })) as NodeJS.ReadableStream;
      await new Promise<void>((resolve, reject) => {
        this.#docker.modem.followProgress(
          stream,
          (err: Error | null, output: Array<{ error?: string }>) => {
            const failed = output?.find((line) => line.error);
            if (cancel.signal.aborted) reject(cancel.signal.reason);
            else if (err || failed) reject(err ?? new Error(failed?.error));
            else resolve();
          },
          watch,
        );
      });
    } catch (err) {
      const cause = cancel.signal.aborted ? cancel.signal.reason : err;
      throw new DockerletError('DKL_ERR_RUNTIME', dockerMessage(cause), { cause });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    const info = await this.imageStatus(reference);
    if (!info) throw new DockerletError('DKL_ERR_RUNTIME', `image ${reference} is not present after a successful pull`);
    this.#log.debug({ image: reference, imageID: info.id }, 'pulled image');
    return info;
  }

  async runPodSandbox(config: SandboxConfig): Promise<string> {
    // The kubelet does not sync such a pod until the network is ready; this is the runtime's own guard.
    if (!config.hostNetwork && !this.#podNetworkReady) throw new DockerletError('DKL_ERR_RUNTIME', `network is not ready: ${NoPodCIDRYet}`);
    const image = this.#options.podInfraImage;
    if (!(await this.imageStatus(image))) await this.pullImage(image);
    const options = sandboxCreateOptions(this.#options, config, await this.#seccomp(config.seccomp), this.#host());
    const container = await this.#createReplacingStale(options);
    await container.start({ abortSignal: this.#quick() });
    if (!config.hostNetwork) await this.#hairpin.enable();
    this.#log.debug({ podUID: config.pod.uid, containerID: container.id.slice(0, 12) }, 'started pod sandbox');
    return container.id;
  }

  async podSandboxStatus(id: string): Promise<SandboxStatus | undefined> {
    const inspect = await this.#inspect(id);
    const labels = inspect?.Config.Labels ?? {};
    // A container that is not one of this node's sandboxes is none, as CRI answers NotFound.
    if (!inspect || labels[ContainerTypeLabel] !== 'podsandbox' || labels[NodeLabel] !== this.#options.nodeName) return undefined;
    return sandboxStatus(inspect, this.#options.network.name);
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.stopContainer(id, 0);
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.removeContainer(id);
  }

  async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    const sandbox = await this.#inspect(sandboxId);
    if (!sandbox) throw new DockerletError('DKL_ERR_NOT_FOUND', `pod sandbox ${sandboxId.slice(0, 12)} is gone`);
    // The pod's containers go in the cgroup its sandbox was given, as cri-dockerd puts them.
    const cgroupParent = sandbox.HostConfig.CgroupParent;
    const joined = { id: sandboxId, pod: { ...sandboxStatus(sandbox, this.#options.network.name).pod }, ...(cgroupParent ? { cgroupParent } : {}) };
    const options = containerCreateOptions(this.#options, joined, config, await this.#seccomp(config.security.seccomp), this.#host());
    const container = await this.#createReplacingStale(options);
    return container.id;
  }

  /** What this host lets containers have: how low an OOM score may go, and how their cgroups are spelled. */
  #host(): EngineHost {
    return { oomScoreFloor: this.#oomScoreFloor, cgroupDriver: this.#cgroups?.driver ?? 'cgroupfs' };
  }

  /** How the engine names cgroups, and on which cgroup version, once started; undefined when its containers get none of their own (driver `none`). */
  cgroups(): RuntimeCgroups | undefined {
    return this.#cgroups;
  }

  /** The SecurityOpt for `profile`; a Localhost profile's file is read each time, as cri-dockerd reads it. */
  async #seccomp(profile: SeccompProfile): Promise<string[]> {
    if (profile.type !== 'Localhost') return seccompSecurityOpt(profile);
    try {
      return seccompSecurityOpt(profile, await readFile(profile.path, 'utf8'));
    } catch (err) {
      throw new DockerletError('DKL_ERR_CONFIG_INVALID', `cannot read the Localhost seccomp profile ${profile.path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.#docker.getContainer(id).start({ abortSignal: this.#quick() });
    } catch (err) {
      if (isDockerNotModified(err)) return;
      throw new DockerletError('DKL_ERR_RUNTIME', dockerMessage(err), { cause: err });
    }
  }

  async stopContainer(id: string, gracePeriodSeconds: number, signal?: AbortSignal): Promise<void> {
    try {
      // No request timeout: Docker answers only once the container has stopped.
      await this.#docker.getContainer(id).stop({ t: Math.max(0, Math.ceil(gracePeriodSeconds)), ...(signal ? { abortSignal: signal } : {}) });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (isDockerNotModified(err) || isDockerNotFound(err)) return;
      throw new DockerletError('DKL_ERR_RUNTIME', `stopping container ${id.slice(0, 12)}: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.#docker.getContainer(id).remove({ force: true, v: false, abortSignal: this.#quick() });
    } catch (err) {
      if (isDockerNotFound(err) || isDockerConflict(err)) return;
      throw new DockerletError('DKL_ERR_RUNTIME', `removing container ${id.slice(0, 12)}: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async containerLogs(id: string, options: LogOptions): Promise<Readable> {
    const container = this.#docker.getContainer(id);
    const inspect = await this.#inspect(id);
    if (!inspect) throw new DockerletError('DKL_ERR_NOT_FOUND', `container ${id.slice(0, 12)} is gone`);
    const base = {
      stdout: true,
      stderr: true,
      timestamps: options.timestamps,
      ...(options.tailLines !== undefined ? { tail: options.tailLines } : {}),
      ...(options.sinceSeconds !== undefined ? { since: Math.floor(Date.now() / 1000) - options.sinceSeconds } : {}),
      ...(options.signal ? { abortSignal: options.signal } : {}),
    };
    const tty = inspect.Config.Tty;
    if (options.follow) {
      const stream = (await container.logs({ ...base, follow: true })) as unknown as Readable;
      return tty ? stream : demuxLogStream(stream);
    }
    const buffer = (await container.logs({ ...base, follow: false })) as unknown as Buffer;
    return Readable.from([tty ? buffer : demuxLogBuffer(buffer)]);
  }

  execSync(id: string, command: readonly string[], options: ExecOptions): Promise<ExecResult> {
    return dockerExecSync(this.#docker, id, command, options);
  }

  exec(id: string, command: readonly string[], streams: StreamSelection): Promise<AttachedProcess> {
    return dockerExec(this.#streaming, id, command, streams);
  }

  attach(id: string, streams: StreamSelection): Promise<AttachedProcess> {
    return dockerAttach(this.#streaming, id, streams);
  }

  portForward(sandboxId: string, port: number): Promise<Duplex> {
    return dockerPortForward(this.#streaming, sandboxId, port);
  }

  watchEvents(handlers: RuntimeEventHandlers): () => void {
    return watchDockerEvents(this.#docker, this.#options.nodeName, handlers, this.#log);
  }

  #quick(): AbortSignal {
    return AbortSignal.timeout(this.#options.requestTimeoutMs);
  }

  async containerFsUsage(id: string): Promise<ContainerFsUsage | undefined> {
    let inspect: Dockerode.ContainerInspectInfo & { SizeRw?: number };
    try {
      // size: Docker walks the writable layer for SizeRw, so this is asked only where it is needed.
      inspect = await this.#docker.getContainer(id).inspect({ size: true, abortSignal: this.#quick() } as never);
    } catch (err) {
      if (isDockerNotFound(err)) return undefined;
      throw err;
    }
    return { writableLayerBytes: inspect.SizeRw ?? 0, logsBytes: await logFilesBytes(inspect.LogPath) };
  }

  /**
   * Docker 20.10 on cgroup v2 can record a container's OOM kill a moment after its exit: a
   * container with a memory limit that has just exited with 137 but no OOM flag is inspected
   * again, a few times over a second at most, so that its reason is OOMKilled rather than Error.
   */
  async #settledOom(inspect: Dockerode.ContainerInspectInfo | undefined): Promise<Dockerode.ContainerInspectInfo | undefined> {
    const pending = (info: Dockerode.ContainerInspectInfo): boolean =>
      info.State.Status === 'exited' && info.State.ExitCode === 137 && !info.State.OOMKilled && (info.HostConfig.Memory ?? 0) > 0 && Date.now() - Date.parse(info.State.FinishedAt) < OomSettleMs;
    let current = inspect;
    for (const waitMs of OomRecheckMs) {
      if (!current || !pending(current)) return current;
      await delay(waitMs);
      current = await this.#inspect(current.Id);
    }
    return current;
  }

  async #inspect(id: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    try {
      return await this.#docker.getContainer(id).inspect({ abortSignal: this.#quick() });
    } catch (err) {
      if (isDockerNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Creates a container; a dead container of ours already holding the name (left by a crash
   * between create and record) is removed first, never a running one.
   */
  async #createReplacingStale(options: Dockerode.ContainerCreateOptions): Promise<Dockerode.Container> {
    try {
      return await this.#docker.createContainer({ ...options, abortSignal: this.#quick() } as Dockerode.ContainerCreateOptions);
    } catch (err) {
      if (!isDockerConflict(err) || !options.name) throw this.#createError(options, err);
      const existing = await this.#inspect(options.name);
      const ours = existing?.Config.Labels?.[NodeLabel] === this.#options.nodeName;
      if (!existing || !ours || existing.State.Running) throw this.#createError(options, err);
      await this.removeContainer(existing.Id);
      try {
        return await this.#docker.createContainer({ ...options, abortSignal: this.#quick() } as Dockerode.ContainerCreateOptions);
      } catch (retryErr) {
        throw this.#createError(options, retryErr);
      }
    }
  }

  #createError(options: Dockerode.ContainerCreateOptions, err: unknown): DockerletError {
    return new DockerletError('DKL_ERR_RUNTIME', `creating container ${options.name ?? ''}: ${dockerMessage(err)}`, { cause: err });
  }

  /** docker-pullable://<repo digest> for registry images, else docker://<image ID> (dockershim's convention). */
  async #imageRef(imageId: string): Promise<string> {
    const known = this.#imageRefs.get(imageId);
    if (known) return known;
    let ref = `docker://${imageId}`;
    try {
      const inspect = await this.#docker.getImage(imageId).inspect({ abortSignal: this.#quick() });
      const digest = inspect.RepoDigests?.[0];
      if (digest) ref = `docker-pullable://${digest}`;
    } catch (err) {
      if (!isDockerNotFound(err)) throw err;
      return ref;
    }
    this.#imageRefs.set(imageId, ref);
    return ref;
  }
}

/** What `docker info` says of cgroups: the driver (cgroupfs, systemd, or none) and, since Docker 20.10, the version. */
interface EngineCgroupInfo {
  CgroupDriver?: string;
  CgroupVersion?: string;
}

function engineCgroups(info: EngineCgroupInfo): RuntimeCgroups | undefined {
  if (info.CgroupDriver !== 'cgroupfs' && info.CgroupDriver !== 'systemd') return undefined;
  return { driver: info.CgroupDriver, version: info.CgroupVersion === '2' ? 2 : 1 };
}
