/**
 * The API server source (pkg/kubelet/config/apiserver.go): the pods bound to this node
 * (fieldSelector spec.nodeName=<node>), listed and watched by a Reflector, every change handed
 * on as the source's whole set. Pods the API server holds are valid and defaulted already; the
 * agent fills in what it relies on and marks them config.source=api, as the kubelet does. Mirror
 * pods (the API's copies of this node's static pods) are not pods to run: they are left out.
 */
import type { Logger } from 'pino';
import { isMirrorPod } from '../../../common/api/pod-helpers.js';
import type { DefaultedPod, Pod } from '../../../common/api/types.js';
import { ConfigSourceAnnotation } from '../../../common/api/well-known.js';
import type { KubeApi } from '../../../common/kube-api/kube-client.js';
import { Reflector } from '../../../common/kube-api/reflector.js';
import { withApiDefaults } from '../pod-defaults.js';
import type { PodSourceRunner } from './source.js';

export interface ApiSourceOptions {
  client: KubeApi;
  nodeName: string;
  logger: Logger;
  /** The pods to run, and the mirror pods of the node's static pods, after every change. */
  onPods(pods: DefaultedPod[], mirrors: Pod[]): void;
}

/**
 * An API pod as the agent runs it; undefined for a mirror pod, or one without a name or UID.
 * What only the API server's bookkeeping changes (status, resourceVersion, managedFields) is left
 * out, so that the agent's own status writes do not come back as changes of the pod.
 */
export function fromApiPod(pod: Pod): DefaultedPod | undefined {
  const metadata = pod.metadata;
  if (!metadata?.name || !metadata.uid || isMirrorPod(pod)) return undefined;
  const { status: _status, ...rest } = withApiDefaults(pod);
  const { resourceVersion: _version, managedFields: _fields, ...kept } = rest.metadata!;
  return {
    ...rest,
    metadata: {
      ...kept,
      name: metadata.name,
      namespace: metadata.namespace || 'default',
      uid: metadata.uid,
      annotations: { ...metadata.annotations, [ConfigSourceAnnotation]: 'api' },
    },
    spec: rest.spec!,
  };
}

export class ApiSource implements PodSourceRunner {
  readonly name = 'api' as const;
  readonly #reflector: Reflector<Pod>;

  constructor(options: ApiSourceOptions) {
    this.#reflector = new Reflector<Pod>({
      client: options.client,
      path: '/api/v1/pods',
      query: { fieldSelector: `spec.nodeName=${options.nodeName}` },
      onSync: (pods) => options.onPods(pods.flatMap((pod) => fromApiPod(pod) ?? []), pods.filter(isMirrorPod)),
      logger: options.logger.child({ component: 'api-source' }),
    });
  }

  /** Starts listing; does not wait for the API server (the set comes when it answers). */
  async start(): Promise<void> {
    this.#reflector.start();
  }

  async stop(): Promise<void> {
    await this.#reflector.stop();
  }
}
