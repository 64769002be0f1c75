/**
 * The node's side of cluster mode (--kubeconfig): the Node kept registered and its status
 * reported (with the kubelet's node events), and the Lease renewed. None of it blocks the agent:
 * pods run while the API server is away, and registration goes on retrying until it is back.
 */
import type { Logger } from 'pino';
import type { Node, Taint } from '../../common/api/types.js';
import type { EventRecorder } from '../events/recorder.js';
import type { KubeApi } from '../../common/kube-api/kube-client.js';
import type { Clock } from '../../common/util/clock.js';
import { goArch } from '../../common/version.js';
import { NodeLeaseController } from './node-lease.js';
import { NodeObserver } from './node-observation.js';
import { NodeStatusManager } from './node-status-manager.js';
import type { EvictionReserve } from './node-status.js';

/** What --kubeconfig and the registration flags set. */
export interface ClusterOptions {
  /** The kubeconfig the node's client was read from. */
  kubeconfig: string;
  nodeLabels: Readonly<Record<string, string>>;
  registerWithTaints: readonly Taint[];
  nodeStatusUpdateFrequencyMs: number;
  nodeStatusReportFrequencyMs: number;
  nodeLeaseDurationSeconds: number;
  /** Whether the routes to the other nodes' pod subnets are kept (agent/network/route-controller.ts). */
  nodeRoutes: boolean;
}

export interface ClusterNodeOptions {
  client: KubeApi;
  cluster: ClusterOptions;
  nodeName: string;
  hostIPs: readonly string[];
  kubeletPort: number;
  rootDir: string;
  /** The node's capacity in pods. */
  maxPods: number;
  /** The container runtime's version; rejects when it does not answer. */
  runtimeVersion(): Promise<string>;
  /** The pressure conditions node-pressure eviction raises now. */
  pressure(): ReadonlySet<string>;
  /** Why pods cannot get a network yet, or undefined when they can: the node is not Ready meanwhile. */
  networkNotReady(): string | undefined;
  /** What the node takes from its Node (its pod subnet), each time the status is computed. */
  applyNodeSpec?(node: Node): Promise<void>;
  /** The hard eviction thresholds allocatable leaves out. */
  evictionReserve: EvictionReserve;
  /** Where the node's own events go (Starting, NodeReady...). */
  recorder: EventRecorder;
  clock: Clock;
  logger: Logger;
}

export class ClusterNode {
  readonly status: NodeStatusManager;
  readonly lease: NodeLeaseController;

  constructor(options: ClusterNodeOptions) {
    const { client, cluster, logger } = options;
    const observer = new NodeObserver({ rootDir: options.rootDir, maxPods: options.maxPods, runtimeVersion: options.runtimeVersion, pressure: options.pressure, networkNotReady: options.networkNotReady });
    this.status = new NodeStatusManager({
      client,
      settings: { nodeName: options.nodeName, hostname: options.nodeName, nodeIPs: options.hostIPs, kubeletPort: options.kubeletPort, arch: goArch, evictionReserve: options.evictionReserve },
      nodeLabels: cluster.nodeLabels,
      taints: [...cluster.registerWithTaints],
      observe: () => observer.observe(),
      ...(options.applyNodeSpec ? { applyNodeSpec: options.applyNodeSpec } : {}),
      updateFrequencyMs: cluster.nodeStatusUpdateFrequencyMs,
      reportFrequencyMs: cluster.nodeStatusReportFrequencyMs,
      recorder: options.recorder,
      clock: options.clock,
      logger: logger.child({ component: 'node-status' }),
    });
    this.lease = new NodeLeaseController({
      client,
      nodeName: options.nodeName,
      nodeUid: () => this.status.uid,
      leaseDurationSeconds: cluster.nodeLeaseDurationSeconds,
      clock: options.clock,
      logger: logger.child({ component: 'node-lease' }),
    });
  }

  /** Registration, then status updates, and the Lease. */
  start(): void {
    this.status.start();
    this.lease.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.status.stop(), this.lease.stop()]);
  }
}
