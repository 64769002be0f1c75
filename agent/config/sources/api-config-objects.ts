/**
 * The ConfigMaps and Secrets that pods from the API server use, read from the API server and
 * kept fresh, as the kubelet's watch-based managers do: one watch per object a pod of this node
 * references (the Node authorizer lets a node read exactly those, one name at a time), started
 * when the first pod refers to it and stopped when the last one is gone. Each change hands on
 * the whole set, which the ConfigObjectStore holds as the `api` source's.
 */
import type { Logger } from 'pino';
import type { ConfigMap, DefaultedPod, Secret } from '../../../common/api/types.js';
import type { KubeApi } from '../../../common/kube-api/kube-client.js';
import { Reflector } from '../../../common/kube-api/reflector.js';
import { delay } from '../../../common/util/clock.js';
import { referencedConfigObjects, type ConfigObjectKey } from '../config-objects.js';

export interface ApiConfigObjectsOptions {
  client: KubeApi;
  logger: Logger;
  onChange(configMaps: ConfigMap[], secrets: Secret[]): void;
}

interface Watched {
  reflector: Reflector<ConfigMap | Secret>;
  object: ConfigMap | Secret | undefined;
}

const Resource = { configmap: 'configmaps', secret: 'secrets' } as const;
/** How long a pod waits for its objects to be read before it goes ahead without them. */
const SyncWaitMs = 10_000;

export class ApiConfigObjects {
  readonly #options: ApiConfigObjectsOptions;
  readonly #watched = new Map<ConfigObjectKey, Watched>();

  constructor(options: ApiConfigObjectsOptions) {
    this.#options = options;
  }

  /**
   * The API pods now: watch what they reference, and only that. Resolves once every object they
   * reference has been read (or `waitMs` has passed), so that a pod does not start before its
   * Secret is known and fail to mount it in the meantime, as the kubelet's managers wait too.
   */
  async setPods(pods: readonly DefaultedPod[], waitMs = SyncWaitMs): Promise<void> {
    const wanted = new Set(pods.flatMap((pod) => [...referencedConfigObjects(pod)]));
    let removed = false;
    for (const [key, watched] of this.#watched) {
      if (wanted.has(key)) continue;
      void watched.reflector.stop();
      this.#watched.delete(key);
      removed = true;
    }
    for (const key of wanted) if (!this.#watched.has(key)) this.#watch(key);
    if (removed) this.#emit();
    const synced = Promise.all([...wanted].map((key) => this.#watched.get(key)!.reflector.synced()));
    await Promise.race([synced, delay(waitMs)]);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#watched.values()].map((watched) => watched.reflector.stop()));
    this.#watched.clear();
  }

  #watch(key: ConfigObjectKey): void {
    const [kind, namespace, name] = key.split('/') as [keyof typeof Resource, string, string];
    const watched: Watched = {
      object: undefined,
      reflector: new Reflector<ConfigMap | Secret>({
        client: this.#options.client,
        path: `/api/v1/namespaces/${namespace}/${Resource[kind]}`,
        query: { fieldSelector: `metadata.name=${name}` },
        onSync: (objects) => {
          watched.object = objects[0];
          this.#emit();
        },
        logger: this.#options.logger.child({ object: key }),
      }),
    };
    this.#watched.set(key, watched);
    watched.reflector.start();
  }

  #emit(): void {
    const configMaps: ConfigMap[] = [];
    const secrets: Secret[] = [];
    for (const [key, { object }] of this.#watched) {
      if (!object) continue;
      if (key.startsWith('configmap/')) configMaps.push(object as ConfigMap);
      else secrets.push(object as Secret);
    }
    this.#options.onChange(configMaps, secrets);
  }
}
