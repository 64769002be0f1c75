/**
 * The proxy's composition root: the one place that builds its concrete parts.
 *
 *   Services (manifest sources) ─► registry (+ allocator, state file) ─┐
 *   pods (the agent, in process or over HTTP) ────────────────────────┴─► ServiceProxy ─► proxier
 *                                                                            │
 *                                                        HTTP: /healthz /metrics /proxy/...
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PodSource } from '../agent/api/well-known.js';
import { systemClock, type Clock } from '../agent/util/clock.js';
import { ServiceAllocator } from './config/allocator.js';
import type { PodFeed } from './config/pod-feed.js';
import { ServiceRegistry } from './config/service-registry.js';
import { ExecCommandRunner } from './datapath/iptables/command-runner.js';
import { IptablesProxier } from './datapath/iptables/iptables-proxier.js';
import type { Proxier, ProxyMode } from './datapath/proxier.js';
import { UserspaceProxier } from './datapath/userspace/userspace-proxier.js';
import { checkServiceGuard } from './host-guard.js';
import { parseIpv4Cidr } from './ipv4.js';
import { buildProxyServer } from './server/app.js';
import { ServiceProxy } from './service-proxy.js';

export interface ProxyOptions {
  mode: ProxyMode;
  serviceCIDR: string;
  /** The pods' CIDR: traffic to a ClusterIP from elsewhere is masqueraded. */
  podCIDR: string;
  nodePortRange: { min: number; max: number };
  /** Where allocations and the datapath's own state are kept. */
  stateDir: string;
  syncPeriodMs: number;
  /** host:port of the proxy's HTTP server; port 0 disables it. */
  healthzBindAddress: { host: string; port: number };
  /** The sources whose Services the registry will be given. */
  sources: readonly PodSource[];
}

export function makeProxier(mode: ProxyMode, options: Pick<ProxyOptions, 'serviceCIDR' | 'podCIDR' | 'stateDir'>, logger: Logger): Proxier {
  return mode === 'iptables'
    ? new IptablesProxier({ serviceCIDR: options.serviceCIDR, podCIDR: options.podCIDR, stateDir: options.stateDir, logger })
    : new UserspaceProxier({ serviceCIDR: options.serviceCIDR, logger });
}

/** `dockerlet proxy --cleanup`: removes what either datapath left on this host. */
export async function cleanupProxy(options: Pick<ProxyOptions, 'serviceCIDR' | 'podCIDR' | 'stateDir'>, logger: Logger): Promise<void> {
  for (const mode of ['iptables', 'userspace'] as const) await makeProxier(mode, options, logger).cleanup();
}

export class ServiceProxyNode {
  readonly registry: ServiceRegistry;
  readonly #options: ProxyOptions;
  readonly #log: Logger;
  readonly #allocator: ServiceAllocator;
  readonly #proxy: ServiceProxy;
  readonly #clock: Clock;
  #server: FastifyInstance | undefined;
  /** The address the HTTP server listens on, once started. */
  listening: string | undefined;

  constructor(options: ProxyOptions, deps: { pods: PodFeed; logger: Logger; clock?: Clock }) {
    this.#options = options;
    this.#log = deps.logger;
    this.#clock = deps.clock ?? systemClock;
    const serviceCIDR = parseIpv4Cidr(options.serviceCIDR);
    if (!serviceCIDR) throw new Error(`invalid service CIDR ${options.serviceCIDR}`);
    this.#allocator = new ServiceAllocator({ serviceCIDR, nodePortRange: options.nodePortRange, statePath: join(options.stateDir, 'allocations.json') });
    this.registry = new ServiceRegistry({ allocator: this.#allocator, sources: options.sources, logger: deps.logger });
    this.#proxy = new ServiceProxy({
      registry: this.registry,
      pods: deps.pods,
      proxier: makeProxier(options.mode, options, deps.logger),
      syncPeriodMs: options.syncPeriodMs,
      clock: this.#clock,
      logger: deps.logger,
    });
  }

  /** Loads the allocations, syncs the datapath once, then follows changes and serves HTTP. */
  async start(): Promise<void> {
    const guard = await checkServiceGuard(new ExecCommandRunner(), this.#options.serviceCIDR);
    if (!guard.covered) {
      this.#log.warn(
        { serviceCIDR: this.#options.serviceCIDR },
        `${guard.reason}: traffic to a ClusterIP that no rule rewrites can leave this host; run DOCKERLET_SERVICE_CIDR=${this.#options.serviceCIDR} scripts/setup-host.sh`,
      );
    }
    await this.#allocator.load();
    await this.#proxy.start();
    const { host, port } = this.#options.healthzBindAddress;
    if (port === 0) return;
    this.#server = buildProxyServer({
      lastSyncedAt: () => this.#proxy.lastSyncedAt,
      syncPeriodMs: this.#options.syncPeriodMs,
      metrics: this.#proxy.metrics,
      services: () => this.registry.services(),
      logger: this.#log,
      now: () => this.#clock.now(),
    });
    this.listening = await this.#server.listen({ host, port });
    this.#log.info({ address: this.listening, mode: this.#options.mode }, 'serving the proxy API');
  }

  /** Waits for a sync that reflects everything known now (tests and benchmarks). */
  synced(): Promise<void> {
    return this.#proxy.requestSync();
  }

  /** Stops; the datapath stays as it is, for a restarted proxy to take over. */
  async stop(): Promise<void> {
    await this.#server?.close();
    await this.#proxy.stop();
  }
}
