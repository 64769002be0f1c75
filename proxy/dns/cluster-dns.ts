/**
 * The cluster DNS of a node: the names of the Kubernetes DNS specification for the Services the
 * proxy serves (its config: the manifests' Services and the agent's pods on a standalone node,
 * the API server's Services and EndpointSlices in a cluster), every other name forwarded to the
 * host's resolvers.
 *
 *   ProxyConfig ──change──► zone rebuilt at the next query ──► QueryHandler ◄── DnsServer (UDP, TCP :53)
 *                                                                   └──► Forwarder ──► host resolvers
 *
 * It listens on the pod bridge's gateway: that address appears when the agent has made the pod
 * network, so a proxy that starts first keeps trying to bind it until it does.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DockerletError, errorMessage } from '../../common/api/errors.js';
import type { Ipv4Cidr } from '../../common/util/ipv4.js';
import { retryUntilDone } from '../../common/util/retry.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { ClusterZone } from './cluster-zone.js';
import { DnsServer } from './dns-server.js';
import type { DnsEndpoint } from './dns-transport.js';
import { Forwarder } from './forwarder.js';
import { QueryHandler } from './query-handler.js';

export type { DnsEndpoint };

export interface ClusterDnsOptions {
  /** Where it listens (the pod bridge's gateway, port 53). */
  listen: DnsEndpoint;
  /** A ClusterIP pods reach it at, routed by the proxy to `listen` (kube-system/kube-dns); none: pods ask `listen` itself. */
  serviceIP?: string;
  /** The cluster domain (--cluster-domain). */
  domain: string;
  /** The host's resolvers, for every name outside the cluster domain. */
  upstreams: readonly DnsEndpoint[];
  /** Who may ask (the pod CIDR, which holds the node's own address on the bridge), besides loopback and the host's own addresses; unset: anyone. */
  clients?: readonly Ipv4Cidr[];
}

const BindRetry = { initialMs: 500, maxMs: 5_000 };

const isAddressMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL';

export class ClusterDns {
  readonly #options: ClusterDnsOptions;
  readonly #config: ProxyConfig;
  readonly #log: Logger;
  readonly #server: DnsServer;
  readonly #stop = new AbortController();
  #zone: ClusterZone | undefined;
  #serial = 0;
  #binding: Promise<unknown> | undefined;

  constructor(options: ClusterDnsOptions, deps: { config: ProxyConfig; metrics: Registry; logger: Logger }) {
    this.#options = options;
    this.#config = deps.config;
    this.#log = deps.logger.child({ component: 'cluster-dns' });
    // Any change: the zone is built anew when next asked.
    deps.config.onChange(() => (this.#zone = undefined));
    const handler = new QueryHandler({
      zone: () => this.#currentZone(),
      domain: options.domain,
      forwarder: new Forwarder({ upstreams: options.upstreams }),
      metrics: deps.metrics,
      logger: this.#log,
    });
    this.#server = new DnsServer(options.listen, handler, this.#log, options.clients);
  }

  /** Where it answers, once listening. */
  get address(): DnsEndpoint | undefined {
    return this.#server.address;
  }

  /**
   * Listens, or, while the address does not exist yet, goes on trying in the background. Rejects
   * when the address exists but cannot be had (another DNS server on it, no permission).
   */
  async start(): Promise<void> {
    try {
      await this.#server.listen();
      this.#listening();
    } catch (err) {
      if (!isAddressMissing(err)) throw this.#bindError(err);
      this.#log.warn({ address: this.#options.listen.host }, 'the cluster DNS address does not exist yet (the agent makes the pod bridge); waiting for it');
      this.#binding = retryUntilDone(() => this.#server.listen(), {
        ...BindRetry,
        signal: this.#stop.signal,
        retryable: isAddressMissing,
        onError: () => undefined,
      }).then(
        (done) => done !== undefined && this.#listening(),
        (failed: unknown) => this.#log.error({ err: errorMessage(this.#bindError(failed)) }, 'the cluster DNS is not serving'),
      );
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#binding;
    await this.#server.close();
  }

  #listening(): void {
    const upstreams = this.#options.upstreams.map((upstream) => `${upstream.host}:${upstream.port}`);
    this.#log.info({ address: this.#server.address, domain: this.#options.domain, upstreams }, 'serving the cluster DNS');
  }

  #bindError(err: unknown): DockerletError {
    const { host, port } = this.#options.listen;
    return new DockerletError(
      'DKL_ERR_RUNTIME',
      `the cluster DNS cannot listen on ${host}:${port} (${errorMessage(err)}): stop what holds that port, or run with --serve-cluster-dns=false and give pods a DNS server with --cluster-dns`,
      { cause: err },
    );
  }

  #currentZone(): ClusterZone | undefined {
    if (!this.#config.synced()) return undefined;
    this.#zone ??= ClusterZone.build(
      {
        domain: this.#options.domain,
        services: this.#config.services(),
        addressesOf: (service) => this.#config.endpointAddresses(service),
        serverAddress: this.#options.serviceIP ?? this.#options.listen.host,
      },
      ++this.#serial,
    );
    return this.#zone;
  }
}
