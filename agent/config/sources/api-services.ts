/**
 * The Services a cluster node's pods get service links from (the kubelet's service lister): all
 * Services of the cluster, listed and watched from the API server, which the Node authorizer
 * lets a node read. Pods wait for the first list, as the kubelet refuses to build a container's
 * environment before its services have been read once; after that an outage keeps the last set.
 */
import type { Logger } from 'pino';
import type { Service } from '../../api/types.js';
import type { KubeApi } from '../../kube-api/kube-client.js';
import { Reflector } from '../../kube-api/reflector.js';
import type { ServiceLookup } from '../../podworkers/service-env.js';

export class ApiServices implements ServiceLookup {
  readonly #reflector: Reflector<Service>;
  #services: readonly Service[] = [];

  constructor(options: { client: KubeApi; logger: Logger }) {
    this.#reflector = new Reflector<Service>({
      client: options.client,
      path: '/api/v1/services',
      onSync: (services) => (this.#services = services),
      logger: options.logger,
    });
  }

  servicesIn(namespace: string): readonly Service[] {
    return this.#services.filter((service) => service.metadata?.namespace === namespace);
  }

  /** Resolves once the Services have been listed. */
  synced(): Promise<void> {
    return this.#reflector.synced();
  }

  start(): void {
    this.#reflector.start();
  }

  stop(): Promise<void> {
    return this.#reflector.stop();
  }
}
