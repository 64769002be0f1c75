/**
 * Mirror pods (pkg/kubelet/pod/mirror_client.go and the kubelet's syncPod): each static pod has
 * a copy in the API server, so that kubectl sees it, annotated kubernetes.io/config.mirror with
 * the static pod's config hash and owned by the Node. A mirror that is missing is created; one
 * whose hash is not the static pod's (the manifest changed) or that is being deleted is deleted
 * (grace 0, UID precondition) and created again; a mirror whose static pod is gone is deleted.
 * Deleting a mirror pod with kubectl therefore never stops the static pod: it comes back.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import { podFullName, type DefaultedPod, type Pod } from '../../common/api/types.js';
import { ConfigHashAnnotation, ConfigMirrorAnnotation, ConfigSeenAnnotation } from '../../common/api/well-known.js';
import { deleteNowOptions, isApiConflict, isApiNotFound, isApiStatus, type KubeApi } from '../../common/kube-api/kube-client.js';
import { CoalescingRunner } from '../../common/util/coalescing-runner.js';

export interface MirrorPodsOptions {
  client: KubeApi;
  nodeName: string;
  /** The Node's UID once registered: mirrors are owned by it, and made only then. */
  nodeUid(): string | undefined;
  /** The static pods the agent runs now. */
  staticPods(): DefaultedPod[];
  /** A static pod got a (new) mirror: its status is to be written there. */
  onMirror(pod: DefaultedPod): void;
  logger: Logger;
}

const podsPath = (namespace: string): string => `/api/v1/namespaces/${namespace}/pods`;

/** The static pod's config hash, which its mirror carries as config.mirror. */
const configHash = (pod: DefaultedPod): string => pod.metadata.annotations?.[ConfigHashAnnotation] ?? pod.metadata.uid;

const mirrorHash = (mirror: Pod): string | undefined => mirror.metadata?.annotations?.[ConfigMirrorAnnotation];

/** IsMirrorPodOf, and not on its way out: a mirror the static pod can keep. */
const isCurrentMirrorOf = (mirror: Pod | undefined, pod: DefaultedPod): mirror is Pod =>
  mirror !== undefined && !mirror.metadata?.deletionTimestamp && mirrorHash(mirror) === configHash(pod);

/** The mirror of `pod` as it is created: the static pod's spec and metadata, the mirror annotation, the Node as owner. */
export function mirrorPodOf(pod: DefaultedPod, nodeName: string, nodeUid: string): Pod {
  const { uid: _uid, ...metadata } = pod.metadata;
  const annotations: Record<string, string> = { ...metadata.annotations, [ConfigMirrorAnnotation]: configHash(pod) };
  delete annotations[ConfigSeenAnnotation];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...metadata,
      annotations,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid, controller: true }],
    },
    spec: pod.spec,
  };
}

export class MirrorPods {
  readonly #options: MirrorPodsOptions;
  /** The mirror pods in the API server, by full name (from the API source's list). */
  #mirrors = new Map<string, Pod>();
  readonly #runner: CoalescingRunner;

  constructor(options: MirrorPodsOptions) {
    this.#options = options;
    this.#runner = new CoalescingRunner(() => this.#reconcile());
  }

  /** The mirror pods of this node the API server holds now. */
  setMirrors(mirrors: readonly Pod[]): void {
    this.#mirrors = new Map(mirrors.map((mirror) => [podFullName(mirror), mirror]));
    void this.#runner.run();
  }

  /** The mirror of a static pod, when the API server holds a current one. */
  mirrorOf(pod: DefaultedPod): Pod | undefined {
    const mirror = this.#mirrors.get(podFullName(pod));
    return isCurrentMirrorOf(mirror, pod) ? mirror : undefined;
  }

  /** Brings the mirrors in line with the static pods; resolves once done. */
  reconcile(): Promise<void> {
    return this.#runner.run();
  }

  async stop(): Promise<void> {
    await this.#runner.stop();
  }

  async #reconcile(): Promise<void> {
    const nodeUid = this.#options.nodeUid();
    if (!nodeUid) return;
    const statics = this.#options.staticPods();
    const wanted = new Set(statics.map((pod) => podFullName(pod)));
    for (const pod of statics) {
      const mirror = this.#mirrors.get(podFullName(pod));
      if (isCurrentMirrorOf(mirror, pod)) continue;
      await this.#attempt(`mirror pod of ${podFullName(pod)}`, async () => {
        if (mirror) await this.#delete(mirror);
        await this.#create(pod, nodeUid);
      });
    }
    for (const [fullName, mirror] of this.#mirrors) {
      if (!wanted.has(fullName)) await this.#attempt(`orphaned mirror pod ${fullName}`, () => this.#delete(mirror));
    }
  }

  async #create(pod: DefaultedPod, nodeUid: string): Promise<void> {
    try {
      const created = await this.#options.client.create<Pod>(podsPath(pod.metadata.namespace), mirrorPodOf(pod, this.#options.nodeName, nodeUid));
      this.#mirrors.set(podFullName(pod), created);
      this.#options.logger.info({ pod: podFullName(pod) }, 'created the mirror pod');
      this.#options.onMirror(pod);
    } catch (err) {
      // One with the same hash is there already (made before a restart): that is the mirror.
      if (!isApiStatus(err, 409)) throw err;
      const existing = await this.#options.client.get<Pod>(`${podsPath(pod.metadata.namespace)}/${pod.metadata.name}`);
      if (mirrorHash(existing) !== configHash(pod)) throw new Error(`a pod named ${podFullName(pod)} that is not its mirror is in the way`, { cause: err });
      this.#mirrors.set(podFullName(pod), existing);
      this.#options.onMirror(pod);
    }
  }

  async #delete(mirror: Pod): Promise<void> {
    const { namespace = 'default', name = '', uid } = mirror.metadata ?? {};
    try {
      await this.#options.client.delete(`${podsPath(namespace)}/${name}`, deleteNowOptions(uid));
      this.#options.logger.info({ pod: `${namespace}/${name}`, podUID: uid }, 'deleted the mirror pod');
    } catch (err) {
      // Gone already, or replaced by another: nothing of this one to delete.
      if (!isApiNotFound(err) && !isApiConflict(err)) throw err;
    }
    this.#mirrors.delete(podFullName(mirror));
  }

  async #attempt(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.#options.logger.warn({ err: errorMessage(err) }, `failed to update the ${what}, will retry`);
    }
  }
}
