/**
 * A standalone node's proxy config: Services from the manifest sources, given their ClusterIPs
 * and node ports by the registry's allocator, and endpoints from the agent's pods. Synced once
 * the registry has resolved a source's Services (sources report as they start; resolving is
 * asynchronous); the pod feed has its first set when start() resolves.
 */
import type { Service } from '../../common/api/types.js';
import type { ProxyState } from '../datapath/proxier.js';
import type { PodFeed } from './pod-feed.js';
import { podEndpointAddresses, podEndpoints } from './pod-endpoints.js';
import type { EndpointAddress, ProxyConfig } from './proxy-config.js';
import { buildProxyState } from './proxy-state.js';
import type { ServiceRegistry } from './service-registry.js';

export class ManifestProxyConfig implements ProxyConfig {
  /** Where the manifest sources' Services go (registry.set). */
  readonly registry: ServiceRegistry;
  readonly #pods: PodFeed;

  constructor(registry: ServiceRegistry, pods: PodFeed) {
    this.registry = registry;
    this.#pods = pods;
  }

  services(): readonly Service[] {
    return this.registry.services();
  }

  endpointAddresses(service: Service): readonly EndpointAddress[] {
    return podEndpointAddresses(this.#pods.pods())(service);
  }

  state(): ProxyState {
    return buildProxyState(this.registry.services(), podEndpoints(this.#pods.pods()));
  }

  synced(): boolean {
    return this.registry.synced();
  }

  onChange(listener: () => void): void {
    this.registry.onChange(() => listener());
    this.#pods.onChange(listener);
  }

  /** Reads the pods' first set. */
  async start(): Promise<void> {
    await this.#pods.start();
  }

  async stop(): Promise<void> {
    await this.#pods.stop();
  }
}
