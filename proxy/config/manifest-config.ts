/**
 * A standalone node's proxy config: Services from the manifest sources, given their ClusterIPs
 * and node ports by the registry's allocator (allocations kept in <stateDir>/allocations.json,
 * read before the registry resolves anything), and endpoints from the agent's pods. Synced once
 * the registry has resolved a source's Services (sources report as they start; resolving is
 * asynchronous); the pod feed has its first set when start() resolves.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Service } from '../../common/api/types.js';
import type { PodSource } from '../../common/api/well-known.js';
import type { ProxyState } from '../datapath/proxier.js';
import type { Ipv4Cidr } from '../../common/util/ipv4.js';
import { ServiceAllocator } from './allocator.js';
import type { PodFeed } from './pod-feed.js';
import { podEndpoints } from './pod-endpoints.js';
import type { ProxyConfig } from './proxy-config.js';
import { buildProxyState } from './proxy-state.js';
import { ServiceRegistry } from './service-registry.js';

export interface ManifestProxyConfigOptions {
  serviceCIDR: Ipv4Cidr;
  nodePortRange: { min: number; max: number };
  stateDir: string;
  /** The manifest sources that will report Services to the registry. */
  sources: readonly PodSource[];
  pods: PodFeed;
  logger: Logger;
}

export class ManifestProxyConfig implements ProxyConfig {
  /** Where the manifest sources' Services go (registry.set). */
  readonly registry: ServiceRegistry;
  readonly #pods: PodFeed;

  constructor(options: ManifestProxyConfigOptions) {
    const allocator = new ServiceAllocator({ serviceCIDR: options.serviceCIDR, nodePortRange: options.nodePortRange, statePath: join(options.stateDir, 'allocations.json') });
    this.registry = new ServiceRegistry({ allocator, sources: options.sources, logger: options.logger });
    this.#pods = options.pods;
  }

  services(): readonly Service[] {
    return this.registry.services();
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
