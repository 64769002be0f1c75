/** Small builders shared by the unit tests: pods through the real defaulting, runtime states by hand. */
import type { Duplex, Readable } from 'node:stream';
import { containerHash } from '../../common/api/pod-helpers.js';
import type { Container, DefaultedPod, ObjectMeta, PodSpec } from '../../common/api/types.js';
import { withApiDefaults } from '../../agent/config/pod-defaults.js';
import type { EventRecorder, EventType, InvolvedObject } from '../../agent/events/recorder.js';
import {
  podRef,
  type AttachedProcess,
  type ContainerRuntime,
  type ContainerConfig,
  type ContainerFsUsage,
  type ContainerStats,
  type ExecOptions,
  type ExecResult,
  type ImageInfo,
  type LogOptions,
  type PodRef,
  type RegistryAuth,
  type RunningPod,
  type RuntimeContainerStatus,
  type RuntimeEventHandlers,
  type RuntimeImage,
  type RuntimePodStatus,
  type RuntimeVersion,
  type SandboxConfig,
  type SandboxStatus,
  type StreamSelection,
} from '../../agent/runtime/runtime.js';

export const Image = 'dockerlet.local/busybox:1.35';

/** A container spec with the test image. */
export function ctr(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: Image, ...extra };
}

/** A pod named `web` (uid `uid-1`) with one container `main` unless `spec` says otherwise, defaulted as the API server would. */
export function pod(spec: Partial<PodSpec> = {}, metadata: Partial<ObjectMeta> = {}): DefaultedPod {
  return withApiDefaults({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-1', ...metadata },
    spec: { containers: [ctr('main')], ...spec },
  }) as DefaultedPod;
}

export const ref = (p: DefaultedPod): PodRef => podRef(p);

/** The spec container (app or init) named `name`. */
export function specOf(p: DefaultedPod, name: string): Container {
  const found = [...(p.spec.initContainers ?? []), ...p.spec.containers].find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name} in the pod spec`);
  return found;
}

export function sandbox(p: DefaultedPod, extra: Partial<SandboxStatus> = {}): SandboxStatus {
  return {
    id: 'sandbox-1',
    pod: ref(p),
    attempt: 0,
    state: 'ready',
    createdAt: 1_000,
    hostNetwork: p.spec.hostNetwork === true,
    ...(p.spec.hostNetwork === true ? {} : { ip: '10.244.0.5' }),
    ...extra,
  };
}

/**
 * An instance of the spec container `name`, created from the current spec (so its hash matches)
 * in `sandbox-1`; running unless `extra` says otherwise.
 */
export function instance(p: DefaultedPod, name: string, extra: Partial<RuntimeContainerStatus> = {}): RuntimeContainerStatus {
  const spec = specOf(p, name);
  const isInit = (p.spec.initContainers ?? []).some((c) => c.name === name);
  return {
    id: `${name}-0`,
    name,
    pod: ref(p),
    sandboxId: 'sandbox-1',
    kind: isInit ? 'init' : 'regular',
    state: 'running',
    createdAt: 2_000,
    startedAt: 2_000,
    image: spec.image ?? '',
    imageRef: 'docker-pullable://sha256:abc',
    hash: containerHash(spec),
    restartCount: 0,
    labels: {},
    ...extra,
  };
}

/** An exited instance of `name` with `exitCode`. */
export function exited(p: DefaultedPod, name: string, exitCode: number, extra: Partial<RuntimeContainerStatus> = {}): RuntimeContainerStatus {
  return instance(p, name, {
    state: 'exited',
    exitCode,
    reason: exitCode === 0 ? 'Completed' : 'Error',
    finishedAt: 3_000,
    ...extra,
  });
}

/** What the runtime shows of `p`: its sandboxes and containers, newest first. */
export function runtimeStatus(p: DefaultedPod, sandboxes: SandboxStatus[], containers: RuntimeContainerStatus[] = []): RuntimePodStatus {
  return { pod: ref(p), sandboxes, containers };
}

// ---- fakes of our own interfaces, shared by the prober, hook and kill tests ----------------

/** A promise the test settles by hand. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface RecordedEvent {
  object: InvolvedObject;
  type: EventType;
  reason: string;
  message: string;
}

/** An EventRecorder that keeps what it is given. */
export class FakeRecorder implements EventRecorder {
  events: RecordedEvent[] = [];

  event(object: InvolvedObject, type: EventType, reason: string, message: string): void {
    this.events.push({ object, type, reason, message });
  }

  reasons(): string[] {
    return this.events.map((e) => e.reason);
  }
}

export interface ExecCall {
  id: string;
  command: readonly string[];
  options: ExecOptions;
}

/**
 * A ContainerRuntime whose execSync answers with `execSyncAnswer` (a result, or a promise of one,
 * or a throw) and whose stopContainer is recorded; every other call fails the test.
 */
export class FakeRuntime implements ContainerRuntime {
  execCalls: ExecCall[] = [];
  stops: Array<{ id: string; gracePeriodSeconds: number }> = [];
  execSyncAnswer: (call: ExecCall) => ExecResult | Promise<ExecResult> = () => ({ exitCode: 0, output: '' });

  async execSync(id: string, command: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const call = { id, command, options };
    this.execCalls.push(call);
    return this.execSyncAnswer(call);
  }

  async stopContainer(id: string, gracePeriodSeconds: number): Promise<void> {
    this.stops.push({ id, gracePeriodSeconds });
  }

  #unexpected(name: string): never {
    throw new Error(`FakeRuntime: unexpected call to ${name}`);
  }

  version(): Promise<RuntimeVersion> {
    return this.#unexpected('version');
  }
  listPods(): Promise<RunningPod[]> {
    return this.#unexpected('listPods');
  }
  getPodStatus(_pod: PodRef): Promise<RuntimePodStatus> {
    return this.#unexpected('getPodStatus');
  }
  imageStatus(_image: string): Promise<ImageInfo | undefined> {
    return this.#unexpected('imageStatus');
  }
  pullImage(_image: string, _auth?: RegistryAuth, _signal?: AbortSignal): Promise<ImageInfo> {
    return this.#unexpected('pullImage');
  }
  listImages(): Promise<RuntimeImage[]> {
    return this.#unexpected('listImages');
  }
  imagesInUse(): Promise<Set<string>> {
    return this.#unexpected('imagesInUse');
  }
  removeImage(_id: string): Promise<void> {
    return this.#unexpected('removeImage');
  }
  imageFsPath(): string {
    return this.#unexpected('imageFsPath');
  }
  containerStats(_id: string): Promise<ContainerStats | undefined> {
    return this.#unexpected('containerStats');
  }
  containerFsUsage(_id: string): Promise<ContainerFsUsage | undefined> {
    return this.#unexpected('containerFsUsage');
  }
  runPodSandbox(_config: SandboxConfig): Promise<string> {
    return this.#unexpected('runPodSandbox');
  }
  podSandboxStatus(_id: string): Promise<SandboxStatus | undefined> {
    return this.#unexpected('podSandboxStatus');
  }
  stopPodSandbox(_id: string): Promise<void> {
    return this.#unexpected('stopPodSandbox');
  }
  removePodSandbox(_id: string): Promise<void> {
    return this.#unexpected('removePodSandbox');
  }
  createContainer(_sandboxId: string, _config: ContainerConfig): Promise<string> {
    return this.#unexpected('createContainer');
  }
  startContainer(_id: string): Promise<void> {
    return this.#unexpected('startContainer');
  }
  removeContainer(_id: string): Promise<void> {
    return this.#unexpected('removeContainer');
  }
  containerLogs(_id: string, _options: LogOptions): Promise<Readable> {
    return this.#unexpected('containerLogs');
  }
  exec(_id: string, _command: readonly string[], _streams: StreamSelection): Promise<AttachedProcess> {
    return this.#unexpected('exec');
  }
  attach(_id: string, _streams: StreamSelection): Promise<AttachedProcess> {
    return this.#unexpected('attach');
  }
  portForward(_sandboxId: string, _port: number): Promise<Duplex> {
    return this.#unexpected('portForward');
  }
  watchEvents(_handlers: RuntimeEventHandlers): () => void {
    return this.#unexpected('watchEvents');
  }
}
