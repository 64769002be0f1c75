/**
 * Makes a container's image present per its imagePullPolicy (pkg/kubelet/images): pulls are
 * serialized (serializeImagePulls), a failed pull backs off 10 s doubling to 5 min, and each
 * step is recorded as the kubelet's events. With registry credentials (the pod's
 * imagePullSecrets that match the image, then the node's docker config), each is tried in turn
 * until a pull succeeds, as the kubelet's pullImage does; the failures are reported together.
 */
import type { Container, Secret } from '../../common/api/types.js';
import { aggregateMessage, errorMessage } from '../../common/api/errors.js';
import type { EventRecorder, InvolvedObject } from '../events/recorder.js';
import type { Backoff } from '../../common/util/backoff.js';
import type { ContainerRuntime, ImageInfo, RegistryAuth } from '../runtime/runtime.js';
import type { Clock } from '../../common/util/clock.js';
import { isValidImageReference } from './image-reference.js';
import type { NodeDockerConfig } from './node-credentials.js';
import { credentialsFor } from './pull-secrets.js';

export type EnsureImageResult =
  | { ok: true; image: ImageInfo }
  | { ok: false; reason: 'ErrImagePull' | 'ImagePullBackOff' | 'ErrImageNeverPull' | 'InvalidImageName'; message: string; retryAfterMs?: number };

/** After a failed pull, how soon the pod is synced again to show that it is backing off. */
const ReportBackoffAfterMs = 1_000;

export class ImageManager {
  readonly #runtime: ContainerRuntime;
  readonly #backoff: Backoff;
  readonly #recorder: EventRecorder;
  readonly #clock: Clock;
  readonly #nodeConfig: NodeDockerConfig | undefined;
  /** One pull at a time; concurrent requests for one image with the same credentials share its pull. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #inFlight = new Map<string, Promise<ImageInfo>>();

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
  async ensureImage(podUID: string, container: Container, object: InvolvedObject, pullSecrets: readonly Secret[] = []): Promise<EnsureImageResult> {
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
      const pulled = await this.#pullWithAny(image, credentialsFor(image, pullSecrets, await this.#nodeConfig?.read()));
      const seconds = ((this.#clock.now() - started) / 1000).toFixed(3);
      this.#recorder.event(object, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${seconds}s`);
      this.#backoff.reset(key);
      return { ok: true, image: pulled };
    } catch (err) {
      this.#backoff.next(key, this.#clock.now());
      const message = `Failed to pull image "${image}": ${errorMessage(err)}`;
      this.#recorder.event(object, 'Warning', 'Failed', message);
      this.#recorder.event(object, 'Warning', 'Failed', 'Error: ErrImagePull');
      // Sync again shortly: that sync reports ImagePullBackOff until the back-off lets the next pull go.
      return { ok: false, reason: 'ErrImagePull', message, retryAfterMs: Math.min(ReportBackoffAfterMs, this.#backoff.remainingSinceUpdate(key)) };
    }
  }

  async #pullWithAny(image: string, credentials: readonly RegistryAuth[]): Promise<ImageInfo> {
    if (credentials.length === 0) return this.#pull(image, undefined);
    const failures: string[] = [];
    for (const auth of credentials) {
      try {
        return await this.#pull(image, auth);
      } catch (err) {
        failures.push(errorMessage(err));
      }
    }
    throw new Error(aggregateMessage(failures));
  }

  /** One pull at a time; a pull of the same image with the same credentials under way is shared. */
  #pull(image: string, auth: RegistryAuth | undefined): Promise<ImageInfo> {
    const key = JSON.stringify([image, auth ?? null]);
    const running = this.#inFlight.get(key);
    if (running) return running;
    const pull = this.#queue.then(() => this.#runtime.pullImage(image, auth));
    this.#queue = pull.catch(() => undefined);
    this.#inFlight.set(key, pull);
    void pull.finally(() => this.#inFlight.delete(key)).catch(() => undefined);
    return pull;
  }
}
