/**
 * A cluster node's proxy config (kube-proxy's informers): Services and their endpoints listed and
 * watched from the API server, which allocated the ClusterIPs and node ports already. Endpoints
 * come from the newest API the server serves: EndpointSlices of discovery.k8s.io/v1, of v1beta1
 * (servers before 1.21), or v1 Endpoints (servers without the discovery.k8s.io group), found
 * from the server's discovery document, retried with a backoff until it answers. Both lists
 * leave out objects labelled service.kubernetes.io/service-proxy-name (another proxy serves them),
 * as kube-proxy does. Unlike kube-proxy, the endpoints of headless Services are listed too (the
 * cluster DNS publishes them); the datapath never carries them.
 *
 * A Service whose ClusterIP lies outside --service-cluster-ip-range is not served, logged once:
 * only that range is covered by the host's guard. Nothing is synced before both lists have
 * come, and an outage keeps the last sets (the reflectors hand nothing over meanwhile).
 */
import type { Logger } from 'pino';
import type { Service } from '../../common/api/types.js';
import { errorMessage } from '../../common/api/errors.js';
import { isApiNotFound, type KubeApi } from '../../common/kube-api/kube-client.js';
import { Reflector, type ListedObject } from '../../common/kube-api/reflector.js';
import { retryUntilDone } from '../../common/util/retry.js';
import type { ProxyState } from '../datapath/proxier.js';
import { cidrContains, type Ipv4Cidr } from '../../common/util/ipv4.js';
import { endpointsObjectAddresses, endpointsObjectEndpoints, sliceAddresses, sliceEndpoints, type EndpointSlice, type Endpoints } from './api-endpoints.js';
import type { AddressLookup, EndpointAddress, ProxyConfig } from './proxy-config.js';
import { buildProxyState, isProxied, type EndpointLookup } from './proxy-state.js';

/** kube-proxy's list options for Services, EndpointSlices and Endpoints, headless ones kept (for DNS). */
const ProxiedObjects = { labelSelector: '!service.kubernetes.io/service-proxy-name' };

export interface EndpointsApi {
  /** The collection to list and watch. */
  path: string;
  kind: 'EndpointSlice' | 'Endpoints';
}

interface ApiGroup {
  versions?: Array<{ version: string }>;
}

/** The newest endpoints API `client`'s server serves. */
export async function discoverEndpointsApi(client: KubeApi, signal?: AbortSignal): Promise<EndpointsApi> {
  let group: ApiGroup;
  try {
    group = await client.get<ApiGroup>('/apis/discovery.k8s.io', signal ? { signal } : {});
  } catch (err) {
    if (isApiNotFound(err)) return { path: '/api/v1/endpoints', kind: 'Endpoints' };
    throw err;
  }
  const versions = new Set((group.versions ?? []).map((v) => v.version));
  for (const version of ['v1', 'v1beta1']) {
    if (versions.has(version)) return { path: `/apis/discovery.k8s.io/${version}/endpointslices`, kind: 'EndpointSlice' };
  }
  return { path: '/api/v1/endpoints', kind: 'Endpoints' };
}

const DiscoveryBackoff = { initialMs: 800, maxMs: 30_000 };

export class ApiProxyConfig implements ProxyConfig {
  readonly #client: KubeApi;
  readonly #serviceCIDR: Ipv4Cidr;
  /** This node: its endpoints are the local ones. */
  readonly #nodeName: string;
  readonly #log: Logger;
  readonly #listeners: Array<() => void> = [];
  readonly #stop = new AbortController();
  readonly #services: Reflector<Service>;
  /** The refusals of the last set, so that each is logged when it starts, not at every change. */
  #refused = new Set<string>();
  #servicesSynced = false;
  #served: Service[] = [];
  #endpoints: Reflector<EndpointSlice> | Reflector<Endpoints> | undefined;
  #lookup: EndpointLookup | undefined;
  #addresses: AddressLookup = () => [];
  #discovery: Promise<void> | undefined;

  constructor(options: { client: KubeApi; serviceCIDR: Ipv4Cidr; nodeName: string; logger: Logger }) {
    this.#client = options.client;
    this.#nodeName = options.nodeName;
    this.#serviceCIDR = options.serviceCIDR;
    this.#log = options.logger.child({ component: 'api-proxy-config' });
    this.#services = new Reflector<Service>({
      client: options.client,
      path: '/api/v1/services',
      query: ProxiedObjects,
      onSync: (services) => {
        this.#served = this.#inRange(services);
        this.#servicesSynced = true;
        this.#changed();
      },
      logger: this.#log,
    });
  }

  services(): readonly Service[] {
    return this.#served;
  }

  endpointAddresses(service: Service): readonly EndpointAddress[] {
    return this.#addresses(service);
  }

  state(): ProxyState {
    return buildProxyState(this.#served, this.#lookup ?? (() => []));
  }

  synced(): boolean {
    return this.#servicesSynced && this.#lookup !== undefined;
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Starts listing; does not wait for the API server (state comes when it answers). */
  async start(): Promise<void> {
    this.#services.start();
    this.#discovery ??= this.#watchEndpoints(this.#stop.signal);
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#discovery;
    await this.#services.stop();
    await this.#endpoints?.stop();
  }

  async #watchEndpoints(signal: AbortSignal): Promise<void> {
    const api = await retryUntilDone(() => discoverEndpointsApi(this.#client, signal), {
      ...DiscoveryBackoff,
      signal,
      onError: (err, retryInMs) => this.#log.warn({ err: errorMessage(err), retryInMs }, 'reading the API server discovery of discovery.k8s.io failed, will retry'),
    });
    if (!api) return;
    this.#log.info({ path: api.path }, `endpoints from ${api.kind} objects`);
    this.#endpoints =
      api.kind === 'EndpointSlice'
        ? this.#reflect(api.path, (slices: readonly EndpointSlice[]) => sliceEndpoints(slices, this.#nodeName), sliceAddresses)
        : this.#reflect(api.path, (objects: readonly Endpoints[]) => endpointsObjectEndpoints(objects, this.#nodeName), endpointsObjectAddresses);
    this.#endpoints.start();
  }

  #reflect<T extends ListedObject>(path: string, toLookup: (objects: readonly T[]) => EndpointLookup, toAddresses: (objects: readonly T[]) => AddressLookup): Reflector<T> {
    return new Reflector<T>({
      client: this.#client,
      path,
      query: ProxiedObjects,
      onSync: (objects) => {
        this.#lookup = toLookup(objects);
        this.#addresses = toAddresses(objects);
        this.#changed();
      },
      logger: this.#log,
    });
  }

  /** The Services to serve: those whose ClusterIP the guard covers; each newly refused one is logged once. */
  #inRange(services: readonly Service[]): Service[] {
    const refused = new Set<string>();
    const served = services.filter((service) => {
      if (!isProxied(service) || cidrContains(this.#serviceCIDR, service.spec!.clusterIP!)) return true;
      const line = `Service ${service.metadata?.namespace}/${service.metadata?.name} is not served: its ClusterIP ${service.spec!.clusterIP} is outside --service-cluster-ip-range ${this.#serviceCIDR.text}, which the host guard protects; give the proxy the API server's range`;
      if (!this.#refused.has(line)) this.#log.error(line);
      refused.add(line);
      return false;
    });
    this.#refused = refused;
    return served;
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
