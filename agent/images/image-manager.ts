/**
 * Makes a container's image present per its imagePullPolicy (pkg/kubelet/images): a failed pull
 * backs off 10 s doubling to 5 min, and each step is recorded as the kubelet's events. With
 * registry credentials (the pod's imagePullSecrets that match the image, then the node's docker
 * config), each is tried in turn until a pull succeeds, as the kubelet's pullImage does; the
 * failures are reported together.
 *
 * Pulls of different images run side by side, a few at a time (maxParallelImagePulls), so one
 * stalled registry holds back no other image; pods that want one image with the same
 * credentials share its pull. A pod whose sync is aborted (it is being deleted) stops waiting,
 * and a pull nobody waits for any more is cancelled.
 */
import type { Container, Secret } from '../../common/api/types.js';
import { aggregateMessage, errorMessage } from '../../common/api/errors.js';
import type { EventRecorder, InvolvedObject } from '../events/recorder.js';
import type { Backoff } from '../../common/util/backoff.js';
import { Semaphore } from '../../common/util/semaphore.js';
import type { ContainerRuntime, ImageInfo, RegistryAuth } from '../runtime/runtime.js';
import { abortable, type Clock } from '../../common/util/clock.js';
import { isValidImageReference } from './image-reference.js';
import type { NodeDockerConfig } from './node-credentials.js';
import { credentialsFor } from './pull-secrets.js';

export type EnsureImageResult =
  | { ok: true; image: ImageInfo }
  | { ok: false; reason: 'ErrImagePull' | 'ImagePullBackOff' | 'ErrImageNeverPull' | 'InvalidImageName'; message: string; retryAfterMs?: number };

/** After a failed pull, how soon the pod is synced again to show that it is backing off. */
const ReportBackoffAfterMs = 1_000;
/** Pulls under way at once (the kubelet's maxParallelImagePulls, when it does not serialize them). */
const MaxParallelImagePulls = 3;

/** A pull several pods may wait for: cancelled once none does. */
interface SharedPull {
  promise: Promise<ImageInfo>;
  abort: AbortController;
  waiters: number;
}

export class ImageManager {
  readonly #runtime: ContainerRuntime;
  readonly #backoff: Backoff;
  readonly #recorder: EventRecorder;
  readonly #clock: Clock;
  readonly #nodeConfig: NodeDockerConfig | undefined;
  readonly #slots = new Semaphore(MaxParallelImagePulls);
  readonly #inFlight = new Map<string, SharedPull>();

  /** `nodeConfig`: the node's own docker config, tried after the pod's pull Secrets. */
  constructor(options: { runtime: ContainerRuntime; backoff: Backoff; recorder: EventRecorder; clock: Clock; nodeConfig?: NodeDockerConfig }) {
    this.#nodeConfig = options.nodeConfig;
    this.#runtime = options.runtime;
    this.#backoff = options.backoff;
    this.#recorder = options.recorder;
    this.#clock = options.clock;
  }

  /**
   * `pullSecrets`: the pod's imagePullSecrets. Their credentials that match the image, then the
   * node's, are tried in turn; with none that match, an anonymous pull.
   */
  async ensureImage(podUID: string, container: Container, object: InvolvedObject, pullSecrets: readonly Secret[] = [], signal?: AbortSignal): Promise<EnsureImageResult> {
    const image = container.image!;
    if (!isValidImageReference(image)) {
      const message = `Failed to apply default image tag "${image}": couldn't parse image reference "${image}": invalid reference format`;
      this.#recorder.event(object, 'Warning', 'InspectFailed', message);
      return { ok: false, reason: 'InvalidImageName', message };
    }
    const policy = container.imagePullPolicy ?? 'IfNotPresent';
    if (policy !== 'Always') {
      const present = await this.#runtime.imageStatus(image);
      if (present) {
        this.#recorder.event(object, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
        return { ok: true, image: present };
      }
      if (policy === 'Never') {
        const message = `Container image "${image}" is not present with pull policy of Never`;
        this.#recorder.event(object, 'Warning', 'ErrImageNeverPull', message);
        return { ok: false, reason: 'ErrImageNeverPull', message };
      }
    }
    const key = `${podUID}_${image}`;
    const waitMs = this.#backoff.remainingSinceUpdate(key);
    if (waitMs > 0) {
      const message = `Back-off pulling image "${image}"`;
      this.#recorder.event(object, 'Normal', 'BackOff', message);
      return { ok: false, reason: 'ImagePullBackOff', message, retryAfterMs: waitMs };
    }
    this.#recorder.event(object, 'Normal', 'Pulling', `Pulling image "${image}"`);
    const started = this.#clock.now();
    try {
      const pulled = await this.#pullWithAny(image, credentialsFor(image, pullSecrets, await this.#nodeConfig?.read()), signal);
      const seconds = ((this.#clock.now() - started) / 1000).toFixed(3);
      this.#recorder.event(object, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${seconds}s`);
      this.#backoff.reset(key);
      return { ok: true, image: pulled };
    } catch (err) {
      // The pod went away while it waited: nothing to report, nothing to back off.
      if (signal?.aborted) return { ok: false, reason: 'ErrImagePull', message: `pull of "${image}" abandoned: the pod is being deleted` };
      this.#backoff.next(key, this.#clock.now());
      const message = `Failed to pull image "${image}": ${errorMessage(err)}`;
      this.#recorder.event(object, 'Warning', 'Failed', message);
      this.#recorder.event(object, 'Warning', 'Failed', 'Error: ErrImagePull');
      // Sync again shortly: that sync reports ImagePullBackOff until the back-off lets the next pull go.
      return { ok: false, reason: 'ErrImagePull', message, retryAfterMs: Math.min(ReportBackoffAfterMs, this.#backoff.remainingSinceUpdate(key)) };
    }
  }

  async #pullWithAny(image: string, credentials: readonly RegistryAuth[], signal: AbortSignal | undefined): Promise<ImageInfo> {
    if (credentials.length === 0) return this.#pull(image, undefined, signal);
    const failures: string[] = [];
    for (const auth of credentials) {
      try {
        return await this.#pull(image, auth, signal);
      } catch (err) {
        failures.push(errorMessage(err));
      }
    }
    throw new Error(aggregateMessage(failures));
  }

  /** A pull of `image` with `auth`, shared with whoever pulls the same; `signal` ends this caller's wait. */
  async #pull(image: string, auth: RegistryAuth | undefined, signal: AbortSignal | undefined): Promise<ImageInfo> {
    signal?.throwIfAborted();
    const key = JSON.stringify([image, auth ?? null]);
    let shared = this.#inFlight.get(key);
    if (!shared) {
      const abort = new AbortController();
      // Abandoned while it waited for a slot: it gives the slot up without pulling.
      const promise = this.#slots.run(async () => {
        abort.signal.throwIfAborted();
        return this.#runtime.pullImage(image, auth, abort.signal);
      });
      const created: SharedPull = { promise, abort, waiters: 0 };
      shared = created;
      this.#inFlight.set(key, created);
      void promise
        .finally(() => {
          if (this.#inFlight.get(key) === created) this.#inFlight.delete(key);
        })
        .catch(() => undefined);
    }
    shared.waiters++;
    try {
      return await abortable(shared.promise, signal);
    } finally {
      shared.waiters--;
      if (shared.waiters === 0) {
        shared.abort.abort();
        if (this.#inFlight.get(key) === shared) this.#inFlight.delete(key);
      }
    }
  }
}

