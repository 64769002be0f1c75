/**
 * One way to assemble a node: the agent (the kubelet), the service proxy, or both, wired as the
 * command asks. `dockerlet agent`, `up` and `proxy` and the tests all build their node here.
 *
 *   prepareNode(options)            async: the root dir made, the host's facts and the kubeconfigs read
 *   assembleNode(options, inputs)   sync: every part built and wired, nothing running
 *   node.start() / node.stop()      the parts started in order / stopped, pods and rules left in place
 *
 * How the proxy learns Services and endpoints (`ProxyFeed`):
 *   api        the API server's Services and EndpointSlices (a cluster node)
 *   agent      the agent in this process: its manifests' Services, its pods (`dockerlet up`);
 *              the agent's service links come from the same Services
 *   manifests  manifest sources of its own and the pods an agent serves on its read-only API
 *              (`dockerlet proxy` beside a separate `dockerlet agent`)
 */
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { namespacedName } from '../common/api/types.js';
import type { PodSource } from '../common/api/well-known.js';
import { KubeClient, type KubeApi } from '../common/kube-api/kube-client.js';
import type { Clock } from '../common/util/clock.js';
import { userAgent } from '../common/version.js';
import type { ManifestObjects } from '../agent/config/read-manifest.js';
import { manifestSourceNames, manifestSources, type ManifestSourceOptions } from '../agent/config/sources/manifest-sources.js';
import type { PodSourceRunner } from '../agent/config/sources/source.js';
import { servicesInNamespace, type ServiceLookup } from '../agent/envvars/service-env.js';
import { Kubelet } from '../agent/kubelet.js';
import type { KubeletOptions } from '../agent/kubelet-options.js';
import { gatherNodeFacts, type NodeFacts } from '../agent/node/node-facts.js';
import { KubeletApiPodFeed, localPodFeed } from '../proxy/config/pod-feed.js';
import type { ProxyConfig } from '../proxy/config/proxy-config.js';
import type { ServiceRegistry } from '../proxy/config/service-registry.js';
import { apiProxyConfig, manifestProxyConfig, serviceRegistry, ServiceProxyNode, type ProxyOptions } from '../proxy/proxy.js';

export type ProxyFeed =
  /** `kubeconfig`: where prepareNode reads the proxy's client from (and the flag that named it), unless one is given. */
  | { from: 'api'; kubeconfig?: { path: string; flag: string } }
  | { from: 'agent' }
  | { from: 'manifests'; sources: ManifestSourceOptions; kubeletUrl: string };

export interface NodeOptions {
  /** The agent, when this process runs one. */
  agent?: KubeletOptions;
  /** The service proxy, when this process runs one, and where it learns Services and endpoints. */
  proxy?: { options: ProxyOptions; feed: ProxyFeed };
}

/** API clients, read from kubeconfigs by prepareNode or handed in (tests bring clients of their own). */
export interface NodeClients {
  /** The agent's, in cluster mode. */
  agentClient?: KubeApi;
  /** The proxy's, when it is fed from the API server. */
  proxyClient?: KubeApi;
}

/** What a node reads before it is built. */
export interface NodeInputs extends NodeClients {
  /** The host's facts, for the agent: gathered from the agent's options. */
  node?: NodeFacts;
}

/** How often a proxy running alone reads the agent's pods. */
const KubeletPollPeriodMs = 1_000;

/**
 * Makes the agent's root dir and reads what the node needs from outside: the host's facts and
 * each kubeconfig (rejecting with an error naming the flag and the file when one cannot be
 * used). Clients in `given` are taken as they are, and their kubeconfigs are not read.
 */
export async function prepareNode(options: NodeOptions, given: NodeClients = {}): Promise<NodeInputs> {
  const inputs: NodeInputs = { ...given };
  const { agent, proxy } = options;
  if (agent) {
    await mkdir(agent.rootDir, { recursive: true, mode: 0o750 });
    inputs.node = await gatherNodeFacts({
      nodeName: agent.nodeName,
      nodeIPs: agent.nodeIPs,
      rootDir: agent.rootDir,
      resolvConfPath: agent.resolvConf,
      clusterDns: { servers: agent.clusterDNS, domain: agent.clusterDomain },
    });
    if (agent.cluster) inputs.agentClient ??= await KubeClient.fromKubeconfig(agent.cluster.kubeconfig, userAgent('dockerlet'));
  }
  if (proxy?.feed.from === 'api' && !inputs.proxyClient) {
    const kubeconfig = required(proxy.feed.kubeconfig, "the proxy's kubeconfig or client");
    inputs.proxyClient = await KubeClient.fromKubeconfig(kubeconfig.path, userAgent('dockerlet-proxy'), kubeconfig.flag);
  }
  return inputs;
}

/** The agent, the proxy, or both, built and wired; start() runs them. */
export class DockerletNode {
  readonly kubelet: Kubelet | undefined;
  readonly proxy: ServiceProxyNode | undefined;
  /** A lone proxy's own manifest sources. */
  readonly #sources: readonly PodSourceRunner[];
  #stopped = false;

  constructor(parts: { kubelet?: Kubelet; proxy?: ServiceProxyNode; sources?: readonly PodSourceRunner[] }) {
    this.kubelet = parts.kubelet;
    this.proxy = parts.proxy;
    this.#sources = parts.sources ?? [];
  }

  /**
   * The agent first (the proxy may follow its pods), then the proxy's sources, then the proxy.
   * Resolves true once all run; false when stop() came first (the agent may wait long for its
   * container runtime), and then nothing more is started.
   */
  async start(): Promise<boolean> {
    await this.kubelet?.start();
    if (this.#stopped) return false;
    await Promise.all(this.#sources.map((source) => source.start()));
    if (this.#stopped) return false;
    await this.proxy?.start();
    return !this.#stopped;
  }

  /** Stops everything this node runs; pods, containers and datapath rules stay for the next process to adopt. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.proxy?.stop();
    await Promise.all(this.#sources.map((source) => source.stop()));
    await this.kubelet?.stop();
  }
}

/** Builds every part of the node `options` describes from `inputs` (prepareNode's), in one step. */
export function assembleNode(options: NodeOptions, inputs: NodeInputs, deps: { logger: Logger; clock?: Clock }): DockerletNode {
  const { agent, proxy } = options;
  const { logger } = deps;
  const clock = deps.clock ? { clock: deps.clock } : {};
  const newKubelet = (agentOptions: KubeletOptions, services?: ServiceLookup): Kubelet =>
    new Kubelet(agentOptions, {
      logger,
      ...clock,
      node: required(inputs.node, 'the host facts'),
      ...(agentOptions.cluster ? { client: required(inputs.agentClient, "the agent's API client") } : {}),
      ...(services ? { services } : {}),
    });
  const proxyNode = (config: ProxyConfig): ServiceProxyNode => new ServiceProxyNode(required(proxy, 'the proxy options').options, { config, logger, ...clock });

  if (!proxy) return new DockerletNode(agent ? { kubelet: newKubelet(agent) } : {});
  const { feed } = proxy;
  switch (feed.from) {
    case 'api': {
      const kubelet = agent && newKubelet(agent);
      kubelet?.onManifestObjects(manifestServicesWarning(logger));
      const config = apiProxyConfig(proxy.options, required(inputs.proxyClient, "the proxy's API client"), logger);
      return new DockerletNode({ ...(kubelet ? { kubelet } : {}), proxy: proxyNode(config) });
    }
    case 'agent': {
      // The agent's service links and its proxy's Services are one registry.
      const agentOptions = required(agent, 'the agent the proxy follows');
      const registry = serviceRegistry(proxy.options, manifestSourceNames(agentOptions), logger);
      const kubelet = newKubelet(agentOptions, serviceLookup(registry));
      kubelet.onManifestObjects((source, objects) => void registry.set(source, objects.services));
      return new DockerletNode({ kubelet, proxy: proxyNode(manifestProxyConfig(registry, localPodFeed(kubelet))) });
    }
    case 'manifests': {
      const kubelet = agent && newKubelet(agent);
      const registry = serviceRegistry(proxy.options, manifestSourceNames(feed.sources), logger);
      const sources = manifestSources(feed.sources, logger, (source, objects) => void registry.set(source, objects.services));
      if (sources.length === 0) logger.warn('no Service source: set --pod-manifest-path, --manifest-url or --kubeconfig');
      const pods = new KubeletApiPodFeed({ kubeletUrl: feed.kubeletUrl, periodMs: KubeletPollPeriodMs, logger });
      return new DockerletNode({ ...(kubelet ? { kubelet } : {}), proxy: proxyNode(manifestProxyConfig(registry, pods)), sources });
    }
  }
}

/** What the caller must have provided (prepareNode's inputs, the options' parts); a programming error otherwise. */
function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`assembleNode: missing ${what} (prepareNode provides the inputs)`);
  return value;
}

/** The registry's Services as the kubelet looks them up for service links. */
function serviceLookup(registry: ServiceRegistry): ServiceLookup {
  return { servicesIn: (namespace) => servicesInNamespace(registry.services(), namespace) };
}

/** In cluster mode Services are the API server's: a manifest's are not served, and the user is told once for each set a source holds. */
function manifestServicesWarning(log: Logger): (source: PodSource, objects: ManifestObjects) => void {
  const warned = new Map<PodSource, string>();
  return (source, objects) => {
    const names = objects.services.map(namespacedName);
    if (names.length === 0 || warned.get(source) === names.join(',')) return;
    warned.set(source, names.join(','));
    log.warn({ source, services: names }, "Services in manifests are not served in cluster mode: the proxy serves the API server's Services; create them there (kubectl apply)");
  };
}
