/**
 * The load balancer of one service port, as kube-proxy's userspace `LoadBalancerRR`
 * (pkg/proxy/userspace/roundrobin.go): round robin over the ready endpoints, and with
 * sessionAffinity ClientIP a map from client IP to the endpoint it was last given, which holds
 * for `affinityTimeoutSeconds` after its last use.
 *
 * Differences from roundrobin.go, all small:
 * - endpoints are not shuffled when they change (there is one proxy per host here, not one per
 *   node all starting at the same endpoint); their order is the order of the first sync that
 *   named this set, and the round-robin index restarts at 0 when the set changes, as upstream;
 * - expired affinity entries are pruned on every `setEndpoints` (every sync), where upstream
 *   prunes in `CleanupStaleStickySessions` from its sync loop.
 */
import { systemClock, type Clock } from '../../../common/util/clock.js';
import type { EndpointInfo } from '../proxier.js';

/** spec.sessionAffinityConfig.clientIP.timeoutSeconds when unset (v1.DefaultClientIPServiceAffinitySeconds). */
export const DefaultAffinityTimeoutSeconds = 10_800;

/** What the TCP and UDP proxies need from a load balancer. */
export interface EndpointPicker {
  /**
   * The endpoint for a new connection (TCP) or a new client (UDP) from `clientIP`; undefined
   * when the service port has no endpoint. `resetAffinity` ignores the client's affinity (the
   * endpoint it was given did not answer) and gives it the next endpoint in turn instead.
   */
  next(clientIP: string, resetAffinity?: boolean): EndpointInfo | undefined;
  /** Whether a client at `clientIP` may keep `endpoint` (a UDP client after a sync). */
  has(endpoint: EndpointInfo, clientIP: string): boolean;
}

/** "ip:port" ("[ip]:port" for IPv6): how endpoints are compared and logged. */
export const endpointKey = (endpoint: EndpointInfo): string =>
  endpoint.ip.includes(':') ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;

interface Affinity {
  endpoint: string;
  lastUsed: number;
}

export interface LoadBalancerOptions {
  clock?: Clock;
  /** Set: sessionAffinity ClientIP with this timeout (0 or less: the 10800 s default). Unset: no affinity. */
  affinityTimeoutSeconds?: number;
}

export class LoadBalancer implements EndpointPicker {
  readonly #clock: Clock;
  #endpoints: EndpointInfo[] = [];
  readonly #byKey = new Map<string, EndpointInfo>();
  #index = 0;
  /** Milliseconds; undefined when the service has no session affinity. */
  #affinityTimeoutMs: number | undefined;
  /** Client IP -> the endpoint it sticks to. */
  readonly #affinity = new Map<string, Affinity>();

  constructor(options: LoadBalancerOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.setAffinity(options.affinityTimeoutSeconds);
  }

  /** Turns ClientIP affinity on (with this timeout) or off (undefined). Turning it off forgets every client. */
  setAffinity(timeoutSeconds: number | undefined): void {
    if (timeoutSeconds === undefined) {
      this.#affinityTimeoutMs = undefined;
      this.#affinity.clear();
      return;
    }
    this.#affinityTimeoutMs = (timeoutSeconds > 0 ? timeoutSeconds : DefaultAffinityTimeoutSeconds) * 1000;
  }

  get affinityTimeoutSeconds(): number | undefined {
    return this.#affinityTimeoutMs === undefined ? undefined : this.#affinityTimeoutMs / 1000;
  }

  /**
   * Replaces the endpoints with `endpoints` (duplicates dropped). The same set in another order
   * changes nothing; otherwise the round robin starts over, and clients whose endpoint is gone
   * lose their affinity while the others keep it.
   */
  setEndpoints(endpoints: readonly EndpointInfo[]): void {
    this.pruneAffinity();
    const next = new Map<string, EndpointInfo>();
    for (const endpoint of endpoints) {
      const key = endpointKey(endpoint);
      if (!next.has(key)) next.set(key, { ip: endpoint.ip, port: endpoint.port });
    }
    if (next.size === this.#byKey.size && [...next.keys()].every((key) => this.#byKey.has(key))) return;
    for (const [client, affinity] of this.#affinity) {
      if (!next.has(affinity.endpoint)) this.#affinity.delete(client);
    }
    this.#byKey.clear();
    for (const [key, endpoint] of next) this.#byKey.set(key, endpoint);
    this.#endpoints = [...next.values()];
    this.#index = 0;
  }

  get endpoints(): readonly EndpointInfo[] {
    return this.#endpoints;
  }

  /** Whether `endpoint` is one of the current endpoints. */
  has(endpoint: EndpointInfo): boolean {
    return this.#byKey.has(endpointKey(endpoint));
  }

  next(clientIP: string, resetAffinity = false): EndpointInfo | undefined {
    if (this.#endpoints.length === 0) return undefined;
    const now = this.#clock.now();
    const timeout = this.#affinityTimeoutMs;
    if (timeout !== undefined && !resetAffinity) {
      const sticky = this.#affinity.get(clientIP);
      const endpoint = sticky && now - sticky.lastUsed < timeout ? this.#byKey.get(sticky.endpoint) : undefined;
      if (sticky && endpoint) {
        sticky.lastUsed = now;
        return endpoint;
      }
    }
    const endpoint = this.#endpoints[this.#index % this.#endpoints.length]!;
    this.#index = (this.#index + 1) % this.#endpoints.length;
    if (timeout !== undefined) this.#affinity.set(clientIP, { endpoint: endpointKey(endpoint), lastUsed: now });
    return endpoint;
  }

  /** Forgets clients whose affinity has expired (kube-proxy's CleanupStaleStickySessions). */
  pruneAffinity(): void {
    const timeout = this.#affinityTimeoutMs;
    if (timeout === undefined) return;
    const now = this.#clock.now();
    for (const [client, affinity] of this.#affinity) {
      if (now - affinity.lastUsed >= timeout) this.#affinity.delete(client);
    }
  }

  /** The endpoint ("ip:port") each remembered client sticks to (expired ones stay until pruned). */
  get affinities(): ReadonlyMap<string, string> {
    return new Map([...this.#affinity].map(([client, affinity]) => [client, affinity.endpoint]));
  }
}

/**
 * The picker of a NodePort with externalTrafficPolicy Local: a client inside the node (its own
 * addresses, its pods) gets every endpoint, from the service port's Cluster load balancer, as
 * kube-proxy's short-circuits send it to the cluster chain; any other client gets this node's
 * endpoints, from its Local one (none: it is refused).
 */
export class ExternalLocalPicker implements EndpointPicker {
  constructor(
    readonly cluster: LoadBalancer,
    readonly local: LoadBalancer,
    readonly isInsideClient: (clientIP: string) => boolean,
  ) {}

  /** The load balancer that serves `clientIP`. */
  balancerFor(clientIP: string): LoadBalancer {
    return this.isInsideClient(clientIP) ? this.cluster : this.local;
  }

  next(clientIP: string, resetAffinity = false): EndpointInfo | undefined {
    return this.balancerFor(clientIP).next(clientIP, resetAffinity);
  }

  has(endpoint: EndpointInfo, clientIP: string): boolean {
    return this.balancerFor(clientIP).has(endpoint);
  }
}
