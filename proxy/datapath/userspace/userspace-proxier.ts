/**
 * The userspace datapath: Node.js accepts each connection (or UDP client) for a service port and
 * forwards it to an endpoint, in the spirit of kube-proxy's removed userspace mode, for hosts
 * where iptables is not usable.
 *
 * Where kube-proxy's userspace mode captured ClusterIP traffic with iptables REDIRECT/DNAT to
 * a proxy port, this one binds the ClusterIP itself: every ClusterIP is put on `lo` as a /32
 * (through an AddressManager) and a socket listens on clusterIP:port; a NodePort gets a socket
 * on `nodePortAddress` (0.0.0.0, every host address) : nodePort. So no firewall rule is needed.
 *
 * sync(state), serialised with stop() and cleanup():
 *   1. the wanted listeners: (protocol, clusterIP, port) and (protocol, nodePortAddress,
 *      nodePort) per service port; a ClusterIP outside the service CIDR is refused (it would
 *      put an arbitrary address on lo), and of two service ports wanting one socket the first wins;
 *   2. one LoadBalancer per service port and traffic policy its listeners use: all its endpoints
 *      for Cluster, this node's for Local (a Local one with no local endpoint refuses every
 *      connection); endpoints and affinity updated. A ClusterIP's socket follows
 *      internalTrafficPolicy. A NodePort's follows externalTrafficPolicy, and for Local does what
 *      kube-proxy's iptables short-circuits do: a client inside the node (one of its own addresses
 *      or the pod CIDR, `isInsideClient`) gets every endpoint, any other client this node's
 *      (ExternalLocalPicker). A userspace proxy cannot keep a client's source address: every
 *      endpoint sees the node's;
 *   3. listeners no longer wanted stop: a TCP one stops accepting and its open connections drain,
 *      a UDP one closes; a kept listener keeps its socket (only its load balancer may change), and
 *      its UDP clients whose endpoint it no longer gives them are forgotten;
 *   4. the wanted ClusterIPs missing from lo are added, new listeners start, and /32s in the
 *      service CIDR that no listener wants are removed (also ones an earlier process left).
 * A step that fails for one listener or address does not stop the others: sync does all it can,
 * then rejects with one DKL_ERR_RUNTIME naming every failure; the next sync retries them.
 *
 *   running ──stop()──► stopped      (listeners closed, addresses left; later syncs are ignored)
 *   running ──cleanup()──► running   (listeners closed, every /32 of the CIDR off lo; a later sync starts over)
 */
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../../../common/api/errors.js';
import type { Clock } from '../../../common/util/clock.js';
import { policyEndpoints, type Proxier, type ProxyState, type ServicePortInfo, type ServiceProtocol } from '../proxier.js';
import { IpAddressManager, type AddressManager } from './address-manager.js';
import { cidrContains, parseIpv4, type Ipv4Cidr } from '../../../common/util/ipv4.js';
import { nodeClients, type NodeClient } from '../../node-clients.js';
import { ExternalLocalPicker, LoadBalancer, type EndpointPicker } from './load-balancer.js';
import { TcpProxy } from './tcp-proxy.js';
import { UdpProxy } from './udp-proxy.js';

export interface UserspaceProxierOptions {
  /** The service CIDR ("10.96.0.0/12"): ClusterIPs must be in it, and cleanup() clears it from lo. */
  serviceCIDR: Ipv4Cidr;
  logger: Logger;
  /** Where ClusterIPs are put: `ip addr ... dev lo` unless told. */
  addresses?: AddressManager;
  /** For session affinity. */
  clock?: Clock;
  /** The address NodePorts listen on: 0.0.0.0 (every host address) unless told. */
  nodePortAddress?: string;
  /** kube-proxy's --udp-timeout: 250 ms unless told. */
  udpIdleTimeoutMs?: number;
  /** Connect timeouts, one attempt each: 250 ms, 500 ms, 1 s, 2 s unless told. */
  dialTimeoutsMs?: readonly number[];
  /**
   * Whether a NodePort client is inside the node (its own addresses, its pods): such a client
   * gets every endpoint of an externalTrafficPolicy Local service. Unless told, the host's own
   * addresses (nodeClients() without networks).
   */
  isInsideClient?: NodeClient;
}

/**
 * Which endpoints a socket gives its clients: every ready one (Cluster); this node's (Local: a
 * ClusterIP of internalTrafficPolicy Local); or, for a NodePort of externalTrafficPolicy Local,
 * every one to a client inside the node and this node's to the others (ExternalLocal).
 */
export type ListenerPolicy = 'Cluster' | 'Local' | 'ExternalLocal';

/** One socket wanted by the state: where it listens and which service port it serves. */
export interface ListenerSpec {
  /** "TCP 10.96.0.10:80". */
  key: string;
  protocol: ServiceProtocol;
  host: string;
  port: number;
  servicePort: string;
  policy: ListenerPolicy;
  /** The ClusterIP it needs on lo; undefined for a NodePort socket. */
  clusterIP: string | undefined;
}

export type Listener = (ListenerSpec & { protocol: 'TCP'; proxy: TcpProxy }) | (ListenerSpec & { protocol: 'UDP'; proxy: UdpProxy });

export const listenerKey = (protocol: ServiceProtocol, host: string, port: number): string => `${protocol} ${host}:${port}`;

/** The load balancer of a service port for a traffic policy: one over its local endpoints for Local. */
const balancerKey = (servicePort: string, local: boolean): string => (local ? `${servicePort} local` : servicePort);

/** The load balancers a socket of `policy` picks from: over all endpoints (false), over the local ones (true). */
const balancersOf = (policy: ListenerPolicy): readonly boolean[] => (policy === 'Cluster' ? [false] : policy === 'Local' ? [true] : [false, true]);

export class UserspaceProxier implements Proxier {
  readonly mode = 'userspace' as const;
  readonly #cidr: Ipv4Cidr;
  readonly #log: Logger;
  readonly #addresses: AddressManager;
  readonly #clock: Clock | undefined;
  readonly #nodePortAddress: string;
  readonly #udpIdleTimeoutMs: number | undefined;
  readonly #dialTimeoutsMs: readonly number[] | undefined;
  readonly #isInsideClient: NodeClient;
  readonly #balancers = new Map<string, LoadBalancer>();
  readonly #listeners = new Map<string, Listener>();
  /** TCP listeners no longer wanted whose connections are still open. */
  readonly #draining = new Set<TcpProxy>();
  #queue: Promise<unknown> = Promise.resolve();
  #state: 'running' | 'stopped' = 'running';
  /** What the last sync warned about, so that a sync repeats no warning of the one before. */
  #warned = new Set<string>();

  constructor(options: UserspaceProxierOptions) {
    this.#cidr = options.serviceCIDR;
    this.#log = options.logger.child({ component: 'userspace-proxier' });
    this.#addresses = options.addresses ?? new IpAddressManager({ device: 'lo' });
    this.#clock = options.clock;
    this.#nodePortAddress = options.nodePortAddress ?? '0.0.0.0';
    this.#udpIdleTimeoutMs = options.udpIdleTimeoutMs;
    this.#dialTimeoutsMs = options.dialTimeoutsMs;
    this.#isInsideClient = options.isInsideClient ?? nodeClients();
  }

  /** The sockets it serves now, by key ("TCP 10.96.0.10:80"). */
  get listeners(): ReadonlyMap<string, Listener> {
    return this.#listeners;
  }

  /** The load balancer of a service port (of its local endpoints with `local`), while a listener uses it. */
  balancer(servicePort: string, local = false): LoadBalancer | undefined {
    return this.#balancers.get(balancerKey(servicePort, local));
  }

  sync(state: ProxyState): Promise<void> {
    return this.#serial(() => this.#sync(state));
  }

  stop(): Promise<void> {
    return this.#serial(async () => {
      if (this.#state === 'stopped') return;
      this.#state = 'stopped';
      await this.#closeAll();
      this.#log.info('stopped; ClusterIPs stay on lo for the next proxy to take over');
    });
  }

  cleanup(): Promise<void> {
    return this.#serial(async () => {
      await this.#closeAll();
      const problems: string[] = [];
      const present = (await attempt(problems, () => this.#addresses.list()))?.filter((ip) => cidrContains(this.#cidr, ip)) ?? [];
      for (const ip of present) await attempt(problems, () => this.#addresses.remove(ip));
      this.#log.info({ removed: present.length }, `cleaned up: every listener closed, ${present.length} address(es) of ${this.#cidr.text} removed from lo`);
      if (problems.length > 0) {
        throw new DockerletError('DKL_ERR_RUNTIME', `userspace proxy cleanup left work undone: ${problems.join('; ')}`);
      }
    });
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #sync(state: ProxyState): Promise<void> {
    if (this.#state === 'stopped') {
      this.#log.warn('sync after stop() ignored');
      return;
    }
    const warnings = new Set<string>();
    const warn = (message: string): void => {
      if (!this.#warned.has(message)) this.#log.warn(message);
      warnings.add(message);
    };
    const problems: string[] = [];

    // 1. The wanted listeners.
    const servicePorts = state.servicePorts.filter((sp) => this.#acceptable(sp, warn));
    const desired = new Map<string, ListenerSpec>();
    const want = (spec: ListenerSpec): void => {
      const holder = desired.get(spec.key);
      if (holder) warn(`${spec.servicePort} and ${holder.servicePort} both want ${spec.key}; only ${holder.servicePort} is served there`);
      else desired.set(spec.key, spec);
    };
    for (const sp of servicePorts) {
      const clusterIP = { protocol: sp.protocol, host: sp.clusterIP, port: sp.port, servicePort: sp.id, clusterIP: sp.clusterIP };
      want({ key: listenerKey(sp.protocol, sp.clusterIP, sp.port), policy: sp.internalPolicyLocal ? 'Local' : 'Cluster', ...clusterIP });
      if (sp.nodePort !== undefined) {
        const host = this.#nodePortAddress;
        const nodePort = { protocol: sp.protocol, host, port: sp.nodePort, servicePort: sp.id, clusterIP: undefined };
        want({ key: listenerKey(sp.protocol, host, sp.nodePort), policy: sp.externalPolicyLocal ? 'ExternalLocal' : 'Cluster', ...nodePort });
      }
    }

    // 2. Load balancers: one for each that a wanted listener uses.
    const byId = new Map(servicePorts.map((sp) => [sp.id, sp]));
    const wantedBalancers = new Set<string>();
    for (const spec of desired.values()) {
      for (const local of balancersOf(spec.policy)) {
        const key = balancerKey(spec.servicePort, local);
        if (wantedBalancers.has(key)) continue;
        wantedBalancers.add(key);
        const sp = byId.get(spec.servicePort)!;
        let balancer = this.#balancers.get(key);
        if (!balancer) {
          balancer = new LoadBalancer({ ...(this.#clock ? { clock: this.#clock } : {}) });
          this.#balancers.set(key, balancer);
        }
        balancer.setAffinity(sp.affinityTimeoutSeconds);
        balancer.setEndpoints(policyEndpoints(state.endpoints.get(sp.id) ?? [], local));
      }
    }
    for (const key of [...this.#balancers.keys()]) if (!wantedBalancers.has(key)) this.#balancers.delete(key);

    // 3. Listeners no longer wanted stop; kept ones follow their service port.
    for (const [key, listener] of [...this.#listeners]) {
      const spec = desired.get(key);
      if (!spec) {
        this.#listeners.delete(key);
        await this.#retire(listener);
        this.#log.info({ servicePort: listener.servicePort }, `stopped listening on ${key}`);
        continue;
      }
      const picker = this.#picker(spec);
      // Of the same service port, under the same policy or another, clients whose endpoint the picker still gives them stay on it.
      if (listener.protocol === 'UDP') {
        if (listener.servicePort !== spec.servicePort) listener.proxy.forgetAllClients();
        else listener.proxy.forgetClientsNotIn((endpoint, client) => picker.has(endpoint, client));
      }
      listener.servicePort = spec.servicePort;
      listener.policy = spec.policy;
      listener.proxy.picker = picker;
    }

    // 4. Addresses, then new listeners, then addresses no longer wanted.
    const wantedIPs = new Set([...desired.values()].flatMap((spec) => (spec.clusterIP === undefined ? [] : [spec.clusterIP])));
    const listed = await attempt(problems, () => this.#addresses.list());
    // When lo's addresses cannot be listed, none are added or removed this round.
    const present = new Set(listed?.filter((ip) => cidrContains(this.#cidr, ip)) ?? []);
    if (listed) {
      for (const ip of wantedIPs) {
        if (present.has(ip)) continue;
        await attempt(problems, async () => {
          await this.#addresses.add(ip);
          this.#log.info(`added ${ip}/32 to lo`);
        });
      }
    }
    const starting = [...desired.values()].filter((spec) => !this.#listeners.has(spec.key)).map((spec) => this.#start(spec, problems));
    await Promise.all(starting);
    for (const ip of present) {
      if (wantedIPs.has(ip)) continue;
      await attempt(problems, async () => {
        await this.#addresses.remove(ip);
        this.#log.info(`removed ${ip}/32 from lo`);
      });
    }

    this.#warned = warnings;
    if (problems.length > 0) {
      throw new DockerletError('DKL_ERR_RUNTIME', `userspace proxy sync: ${problems.length} step(s) failed and will be retried on the next sync: ${problems.join('; ')}`);
    }
  }

  /** Whether the datapath can serve `sp`: a valid ClusterIP inside the service CIDR and valid ports. */
  #acceptable(sp: ServicePortInfo, warn: (message: string) => void): boolean {
    const validPort = (port: number | undefined): boolean => port === undefined || (Number.isInteger(port) && port > 0 && port < 65536);
    if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') {
      warn(`${sp.id}: protocol ${String(sp.protocol)} is not supported by the userspace proxy; not served`);
      return false;
    }
    if (parseIpv4(sp.clusterIP) === undefined || !cidrContains(this.#cidr, sp.clusterIP)) {
      warn(`${sp.id}: ClusterIP ${sp.clusterIP} is not an IPv4 address in the service CIDR ${this.#cidr.text}; not served`);
      return false;
    }
    if (!validPort(sp.port) || !validPort(sp.nodePort)) {
      warn(`${sp.id}: port ${sp.port} or nodePort ${String(sp.nodePort)} is out of range; not served`);
      return false;
    }
    return true;
  }

  /** What a socket of `spec` picks endpoints with: its policy's load balancer, or both for ExternalLocal. */
  #picker(spec: ListenerSpec): EndpointPicker {
    const balancer = (local: boolean): LoadBalancer => this.#balancers.get(balancerKey(spec.servicePort, local))!;
    if (spec.policy === 'ExternalLocal') return new ExternalLocalPicker(balancer(false), balancer(true), this.#isInsideClient);
    return balancer(spec.policy === 'Local');
  }

  async #start(spec: ListenerSpec, problems: string[]): Promise<void> {
    const picker = this.#picker(spec);
    const logger = this.#log.child({ servicePort: spec.servicePort, listen: spec.key });
    const listener: Listener =
      spec.protocol === 'TCP'
        ? {
            ...spec,
            protocol: 'TCP',
            proxy: new TcpProxy({ host: spec.host, port: spec.port, picker, logger, ...(this.#dialTimeoutsMs ? { dialTimeoutsMs: this.#dialTimeoutsMs } : {}) }),
          }
        : {
            ...spec,
            protocol: 'UDP',
            proxy: new UdpProxy({ host: spec.host, port: spec.port, picker, logger, ...(this.#udpIdleTimeoutMs !== undefined ? { idleTimeoutMs: this.#udpIdleTimeoutMs } : {}) }),
          };
    try {
      await listener.proxy.listen();
    } catch (err) {
      await listener.proxy.close();
      problems.push(`${spec.servicePort}: ${errorMessage(err)}`);
      return;
    }
    this.#listeners.set(spec.key, listener);
    this.#log.info({ servicePort: spec.servicePort }, `listening on ${spec.key}`);
  }

  async #retire(listener: Listener): Promise<void> {
    if (listener.protocol === 'UDP') {
      await listener.proxy.close();
      return;
    }
    const proxy = listener.proxy;
    this.#draining.add(proxy);
    void proxy.drain().finally(() => this.#draining.delete(proxy));
  }

  async #closeAll(): Promise<void> {
    const listeners = [...this.#listeners.values()];
    const draining = [...this.#draining];
    this.#listeners.clear();
    this.#draining.clear();
    this.#balancers.clear();
    this.#warned = new Set();
    await Promise.all([...listeners.map((listener) => listener.proxy.close()), ...draining.map((proxy) => proxy.close())]);
  }
}

/** Runs one step of a sync; a failure is recorded in `problems` so the steps after it still run. */
async function attempt<T>(problems: string[], step: () => Promise<T>): Promise<T | undefined> {
  try {
    return await step();
  } catch (err) {
    problems.push(errorMessage(err));
    return undefined;
  }
}
