/**
 * Everything --kubeconfig adds to the agent, built together by the kubelet when it is given an
 * API client: the node's side (registration, status, Lease), the API server as a pod source with
 * the ConfigMaps, Secrets and Services its pods use, pod statuses written back (API pods' own
 * objects, static pods' mirrors), and Events posted. It follows the kubelet's pod config, status
 * manager and object store; it never stops the agent working when the API server is away.
 */
import { isStaticPod } from '../common/api/pod-helpers.js';
import type { DefaultedPod, Pod } from '../common/api/types.js';
import type { Ipv4Cidr } from '../common/util/ipv4.js';
import type { ConfigObjectStore } from './config/config-objects.js';
import type { PodConfig } from './config/pod-config.js';
import { ApiConfigObjects } from './config/sources/api-config-objects.js';
import { ApiServices } from './envvars/api-services.js';
import { ApiSource } from './config/sources/api-source.js';
import type { PodSourceRunner } from './config/sources/source.js';
import { ApiEventRecorder } from './events/api-recorder.js';
import type { FanOutRecorder } from './events/recorder.js';
import { TokenManager } from './token/token-manager.js';
import { ApiClaims } from './volumes/claims/api-claims.js';
import { PodNetworkRules } from './network/pod-network-rules.js';
import { RouteController } from './network/route-controller.js';
import { waitForNodePodCIDR } from './node/node-pod-cidr.js';
import { ClusterNode, type ClusterNodeOptions } from './node/cluster-node.js';
import { ApiStatusSync } from './status/api-status-sync.js';
import { MirrorPods } from './status/mirror-pods.js';
import type { StatusManager } from './status/status-manager.js';

export interface ClusterModeOptions extends ClusterNodeOptions {
  /** This node's pod subnet; unset, it comes from the Node (podCIDRFromNode()). */
  podCIDR?: Ipv4Cidr;
  /** The pod bridge's interface: routed traffic to it is let through. */
  podBridgeName: string;
  podConfig: PodConfig;
  statuses: StatusManager;
  configObjects: ConfigObjectStore;
  /** The kubelet's recorder: API events are added to it. */
  recorder: FanOutRecorder;
}

export class ClusterMode {
  readonly node: ClusterNode;
  /** The cluster's Services, for service links. */
  readonly services: ApiServices;
  /** Service account tokens for API pods' projected volumes. */
  readonly tokens: TokenManager;
  /** API pods' PersistentVolumeClaims and their volumes. */
  readonly claims: ApiClaims;
  /**
   * The API server as a pod source: the pods bound to this node, and the mirrors of its static
   * pods. Each set waits for the ConfigMaps and Secrets its pods use to be read; sets are applied
   * in the order they came.
   */
  readonly podSource: PodSourceRunner;
  readonly #events: ApiEventRecorder;
  readonly #mirrors: MirrorPods;
  readonly #status: ApiStatusSync;
  readonly #objects: ApiConfigObjects;
  readonly #options: ClusterModeOptions;
  /** The routes to the other nodes' pods, with --node-routes, once this node's pod subnet is known. */
  #routes: RouteController | undefined;
  #started = false;

  constructor(options: ClusterModeOptions) {
    const { client } = options;
    const log = options.logger;
    this.#options = options;
    this.node = new ClusterNode(options);
    this.#events = new ApiEventRecorder({ client, nodeName: options.nodeName, clock: options.clock, logger: log.child({ component: 'events' }) });
    this.#mirrors = new MirrorPods({
      client,
      nodeName: options.nodeName,
      nodeUid: () => this.node.status.uid,
      staticPods: () => options.podConfig.pods().filter(isStaticPod),
      onMirror: (pod) => this.#status.statusChanged(pod),
      logger: log.child({ component: 'mirror-pods' }),
    });
    this.#status = new ApiStatusSync({
      client,
      status: (uid) => options.statuses.get(uid),
      statusTarget: (pod) => {
        const object = isStaticPod(pod) ? this.#mirrors.mirrorOf(pod)?.metadata : pod.metadata;
        return object?.uid ? { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: object.uid } : undefined;
      },
      logger: log.child({ component: 'api-status' }),
    });
    this.services = new ApiServices({ client, logger: log.child({ component: 'api-services' }) });
    this.claims = new ApiClaims(client);
    this.tokens = new TokenManager({ client, clock: options.clock, logger: log.child({ component: 'token-manager' }) });
    this.#objects = new ApiConfigObjects({
      client,
      logger: log.child({ component: 'api-config-objects' }),
      onChange: (configMaps, secrets) => options.configObjects.set('api', configMaps, secrets),
    });
    let applied = Promise.resolve();
    const onPods = (pods: DefaultedPod[], mirrors: Pod[]): void => {
      this.#mirrors.setMirrors(mirrors);
      const objectsRead = this.#objects.setPods(pods);
      applied = applied.then(async () => {
        await objectsRead;
        options.podConfig.set('api', pods);
      });
    };
    this.podSource = new ApiSource({ client, nodeName: options.nodeName, logger: log, onPods });
    options.recorder.add(this.#events);
    options.statuses.onChange((pod) => this.#status.statusChanged(pod));
    options.podConfig.onUpdate(() => void this.#mirrors.reconcile());
  }

  /** Registration, status, Lease and events begin; statuses and static pods are followed. */
  start(): void {
    this.#started = true;
    this.#status.start();
    this.services.start();
    if (this.#options.podCIDR) this.#routeAround(this.#options.podCIDR);
    void this.node.status.registered().then(() => this.#mirrors.reconcile());
    this.node.start();
  }

  /** This node's pod subnet from its Node, once it has one (undefined if `signal` aborts first). */
  podCIDRFromNode(signal: AbortSignal): Promise<Ipv4Cidr | undefined> {
    const { client, nodeName, logger } = this.#options;
    return waitForNodePodCIDR({ client, nodeName, signal, logger: logger.child({ component: 'node-pod-cidr' }) });
  }

  /** The pod network has `podCIDR` (taken from the Node): the node is ready for pods, and routes around its subnet. */
  podNetworkReady(podCIDR: Ipv4Cidr): void {
    if (this.#started) this.#routeAround(podCIDR);
  }

  #routeAround(podCIDR: Ipv4Cidr): void {
    if (!this.#options.cluster.nodeRoutes || this.#routes) return;
    const { client, nodeName, logger } = this.#options;
    const log = logger.child({ component: 'node-routes' });
    // The pods' own rules at once: they need their masquerade before any Node is read.
    const podNetwork = new PodNetworkRules({ podCIDR: podCIDR.text, bridge: this.#options.podBridgeName, logger: log });
    void podNetwork.sync([]);
    this.#routes = new RouteController({ client, local: { name: nodeName, podCIDR }, podNetwork, logger: log });
    this.#routes.start();
  }

  /** A pod's containers are gone: one the API server is deleting is deleted for good. */
  terminated(pod: DefaultedPod): void {
    this.#status.terminated(pod);
  }

  /** A pod left the agent: nothing more to write for it, no token to keep. */
  forget(uid: string): void {
    this.#status.forget(uid);
    this.tokens.forget(uid);
  }

  /** Brings mirror pods in line again (after a failed call, say). */
  reconcileMirrors(): void {
    void this.#mirrors.reconcile();
  }

  async stop(): Promise<void> {
    this.#started = false;
    await this.#status.stop();
    await this.#mirrors.stop();
    await this.#objects.stop();
    await this.services.stop();
    await this.#routes?.stop();
    await this.#events.stop();
    await this.node.stop();
  }
}
