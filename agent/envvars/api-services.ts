/**
 * The Services a cluster node's pods get service links from (the kubelet's service lister): all
 * Services of the cluster, listed and watched from the API server, which the Node authorizer
 * lets a node read. Until the first list has come, containers of API pods are not created
 * (serviceEnvFor refuses: CreateContainerConfigError, retried; static pods go ahead), as the
 * kubelet refuses to build an environment without them; after that an outage keeps the last set. (`dockerlet up` watches
 * Services a second time for its proxy, as a kubelet and a kube-proxy each do.)
 */
import type { Logger } from 'pino';
import type { Service } from '../../common/api/types.js';
import type { KubeApi } from '../../common/kube-api/kube-client.js';
import { Reflector } from '../../common/kube-api/reflector.js';
import { servicesInNamespace, type ServiceLookup } from './service-env.js';

export class ApiServices implements ServiceLookup {
  readonly #reflector: Reflector<Service>;
  #services: readonly Service[] | undefined;

  constructor(options: { client: KubeApi; logger: Logger }) {
    this.#reflector = new Reflector<Service>({
      client: options.client,
      path: '/api/v1/services',
      onSync: (services) => (this.#services = services),
      logger: options.logger,
    });
  }

  servicesIn(namespace: string): readonly Service[] {
    return servicesInNamespace(this.#services ?? [], namespace);
  }

  synced(): boolean {
    return this.#services !== undefined;
  }

  start(): void {
    this.#reflector.start();
  }

  stop(): Promise<void> {
    return this.#reflector.stop();
  }
}
