/**
 * The proxy's composition root: the one place that builds its concrete parts.
 *
 *   standalone: Services (manifest sources) ─► registry (+ allocator, state file) ─┐
 *               pods (the agent, in process or over HTTP) ─────────────────────────┤
 *   cluster:    Services + EndpointSlices | Endpoints (API server) ────────────────┴─► ServiceProxy ─► proxier
 *                                                                                          │
 *                                                                      HTTP: /healthz /metrics /proxy/...
 *   the same config ─► cluster DNS (when asked for): Services by name on the pod bridge's gateway :53
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PodSource } from '../common/api/well-known.js';
import type { KubeApi } from '../common/kube-api/kube-client.js';
import { systemClock, type Clock } from '../common/util/clock.js';
import type { HostLock } from '../common/util/host-lock.js';
import type { Ipv4Cidr } from '../common/util/ipv4.js';
import { ServiceAllocator } from './config/allocator.js';
import { ApiProxyConfig } from './config/api-config.js';
import { ManifestProxyConfig } from './config/manifest-config.js';
import type { PodFeed } from './config/pod-feed.js';
import type { ProxyConfig } from './config/proxy-config.js';
import { ServiceRegistry } from './config/service-registry.js';
import { ClusterDns, type ClusterDnsOptions } from './dns/cluster-dns.js';
import { kubeDnsService, withClusterDnsService } from './dns/dns-service.js';
import { ExecCommandRunner } from '../common/util/command-runner.js';
import { IptablesProxier } from './datapath/iptables/iptables-proxier.js';
import type { Proxier, ProxyMode } from './datapath/proxier.js';
import { UserspaceProxier } from './datapath/userspace/userspace-proxier.js';
import { checkServiceGuard } from './host-guard.js';
import { nodeClients } from './node-clients.js';
import { lockDatapath, type DatapathScope } from './proxy-lock.js';
import { buildProxyServer } from './server/app.js';
import { ServiceProxy } from './service-proxy.js';

export interface ProxyOptions {
  mode: ProxyMode;
  /**
   * This node's name (--hostname-override), for Services and endpoints from an API server: the
   * endpoints on it are the local ones of the Local traffic policies. A standalone node's are all local.
   */
  nodeName?: string;
  /** The ClusterIP range: the one the host's guard protects. */
  serviceCIDR: Ipv4Cidr;
  /**
   * The pods' CIDR: traffic to a ClusterIP from elsewhere is masqueraded, and its clients, as the
   * node's own, reach every endpoint of an externalTrafficPolicy Local NodePort.
   */
  podCIDR: Ipv4Cidr;
  nodePortRange: { min: number; max: number };
  /** Where allocations and the datapath's own state are kept. */
  stateDir: string;
  syncPeriodMs: number;
  /** host:port of the proxy's HTTP server; port 0 disables it. */
  healthzBindAddress: { host: string; port: number };
  /** Serve /proxy/... to clients on other hosts too (it answers loopback clients only otherwise). */
  remoteServiceProxy: boolean;
  /** Serve the cluster DNS, from the same Services and endpoints. */
  clusterDns?: ClusterDnsOptions;
  /** The userspace datapath's NodePort sockets listen here (default 0.0.0.0, every host address; a test node's, 127.0.0.1). */
  nodePortAddress?: string;
  /** What the proxy owns (proxy-lock.ts): the network namespace's datapath unless told; a service CIDR's addresses only with the userspace datapath. */
  scope?: DatapathScope;
}

export function makeProxier(mode: ProxyMode, options: Pick<ProxyOptions, 'serviceCIDR' | 'podCIDR' | 'stateDir' | 'nodePortAddress'>, logger: Logger): Proxier {
  return mode === 'iptables'
    ? new IptablesProxier({ serviceCIDR: options.serviceCIDR, podCIDR: options.podCIDR, stateDir: options.stateDir, logger })
    : new UserspaceProxier({
        serviceCIDR: options.serviceCIDR,
        logger,
        // As the iptables datapath's short-circuits: the node itself and its pods reach every endpoint of an externalTrafficPolicy Local NodePort.
        isInsideClient: nodeClients({ networks: [options.podCIDR] }),
        ...(options.nodePortAddress ? { nodePortAddress: options.nodePortAddress } : {}),
      });
}

/** A proxy that owns only its service CIDR's addresses: what its userspace datapath left there goes; refused while that proxy runs. */
export async function cleanupServiceAddresses(serviceCIDR: Ipv4Cidr, logger: Logger): Promise<void> {
  const lock = await lockDatapath('clean up', { kind: 'service-cidr', serviceCIDR: serviceCIDR.text });
  try {
    await new UserspaceProxier({ serviceCIDR, logger }).cleanup();
  } finally {
    await lock.release();
  }
}

/** `dockerlet proxy --cleanup`: removes what either datapath left on this host; refused while a proxy runs. */
export async function cleanupProxy(options: Pick<ProxyOptions, 'serviceCIDR' | 'podCIDR' | 'stateDir'>, logger: Logger): Promise<void> {
  const lock = await lockDatapath('clean up');
  try {
    for (const mode of ['iptables', 'userspace'] as const) await makeProxier(mode, options, logger).cleanup();
  } finally {
    await lock.release();
  }
}

/**
 * A standalone node's Services: those the manifest `sources` report (registry.set), given
 * ClusterIPs and node ports here; the allocations are kept in <stateDir>/allocations.json.
 */
export function serviceRegistry(options: ProxyOptions, sources: readonly PodSource[], logger: Logger): ServiceRegistry {
  const allocator = new ServiceAllocator({ serviceCIDR: options.serviceCIDR, nodePortRange: options.nodePortRange, statePath: join(options.stateDir, 'allocations.json') });
  const dnsServiceIP = options.clusterDns?.serviceIP;
  return new ServiceRegistry({ allocator, sources, ...(dnsServiceIP ? { builtIn: [kubeDnsService(dnsServiceIP)] } : {}), logger });
}

/** A standalone node's config: the registry's Services, endpoints from `pods`. */
export function manifestProxyConfig(registry: ServiceRegistry, pods: PodFeed): ManifestProxyConfig {
  return new ManifestProxyConfig(registry, pods);
}

/** A cluster node's config: Services and endpoints from the API server of `client`. */
export function apiProxyConfig(options: ProxyOptions, client: KubeApi, logger: Logger): ApiProxyConfig {
  if (!options.nodeName) throw new Error('apiProxyConfig: the proxy needs its node name to serve an API server\'s Services');
  logger.info({ node: options.nodeName }, "endpoints on this node are the local ones of Services with a Local traffic policy");
  return new ApiProxyConfig({ client, serviceCIDR: options.serviceCIDR, nodeName: options.nodeName, logger });
}

export class ServiceProxyNode {
  readonly config: ProxyConfig;
  readonly #options: ProxyOptions;
  readonly #log: Logger;
  readonly #proxy: ServiceProxy;
  readonly #clock: Clock;
  /** The cluster DNS, when the options ask for it. */
  readonly dns: ClusterDns | undefined;
  #server: FastifyInstance | undefined;
  #lock: HostLock | undefined;
  /** The address the HTTP server listens on, once started. */
  listening: string | undefined;

  constructor(options: ProxyOptions, deps: { config: ProxyConfig; logger: Logger; clock?: Clock }) {
    if (options.scope?.kind === 'service-cidr' && options.mode !== 'userspace') throw new Error('ServiceProxyNode: only the userspace datapath can own a service CIDR alone; iptables chains are the whole namespace\'s');
    this.#options = options;
    this.#log = deps.logger;
    this.#clock = deps.clock ?? systemClock;
    const dns = options.clusterDns;
    // The cluster DNS at a ClusterIP: its Service, routed to the server like any other.
    this.config = dns?.serviceIP ? withClusterDnsService(deps.config, { clusterIP: dns.serviceIP, endpoint: dns.listen.host }, deps.logger) : deps.config;
    this.#proxy = new ServiceProxy({
      config: this.config,
      proxier: makeProxier(options.mode, options, deps.logger),
      syncPeriodMs: options.syncPeriodMs,
      clock: this.#clock,
      logger: deps.logger,
    });
    this.dns = dns && new ClusterDns(dns, { config: this.config, metrics: this.#proxy.metrics, logger: deps.logger });
  }

  /** Takes the datapath (refusing to run beside another proxy), syncs it once its config is synced, follows changes, and serves DNS and HTTP. */
  async start(): Promise<void> {
    this.#lock = await lockDatapath('run', this.#options.scope);
    const guard = await checkServiceGuard(new ExecCommandRunner(), this.#options.serviceCIDR.text);
    if (!guard.covered) {
      this.#log.warn(
        { serviceCIDR: this.#options.serviceCIDR.text },
        `${guard.reason}: traffic to a ClusterIP that no rule rewrites can leave this host; run DOCKERLET_SERVICE_CIDR=${this.#options.serviceCIDR.text} scripts/setup-host.sh`,
      );
    }
    await this.#proxy.start();
    await this.dns?.start();
    const { host, port } = this.#options.healthzBindAddress;
    if (port === 0) return;
    this.#server = buildProxyServer({
      lastSyncedAt: () => this.#proxy.lastSyncedAt,
      syncPeriodMs: this.#options.syncPeriodMs,
      metrics: this.#proxy.metrics,
      services: () => this.config.services(),
      remoteServiceProxy: this.#options.remoteServiceProxy,
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
    await this.dns?.stop();
    await this.#proxy.stop();
    await this.#lock?.release();
  }
}
