/**
 * The node's side of cluster mode (--kubeconfig): the API client, the Node kept registered and
 * its status reported (with the kubelet's node events), and the Lease renewed. None of it blocks the agent: pods run while the
 * API server is away, and registration goes on retrying until it is back.
 */
import type { Logger } from 'pino';
import type { Taint } from '../../common/api/types.js';
import type { EventRecorder } from '../events/recorder.js';
import { KubeClient } from '../../common/kube-api/kube-client.js';
import type { Clock } from '../../common/util/clock.js';
import { userAgent } from '../../common/version.js';
import { NodeLeaseController } from './node-lease.js';
import { observeNode } from './node-observation.js';
import { NodeStatusManager } from './node-status-manager.js';
import { readNodeSystemInfo } from './node-system-info.js';

/** What --kubeconfig and the registration flags set. */
export interface ClusterOptions {
  kubeconfig: string;
  nodeLabels: Readonly<Record<string, string>>;
  registerWithTaints: readonly Taint[];
  nodeStatusUpdateFrequencyMs: number;
  nodeStatusReportFrequencyMs: number;
  nodeLeaseDurationSeconds: number;
  maxPods: number;
}

export interface ClusterNodeOptions {
  cluster: ClusterOptions;
  nodeName: string;
  hostIPs: readonly string[];
  kubeletPort: number;
  rootDir: string;
  runtimeVersion: string;
  /** Resolves when the container runtime answers. */
  runtimeUp(): Promise<unknown>;
  /** Where the node's own events go (Starting, NodeReady...). */
  recorder: EventRecorder;
  clock: Clock;
  logger: Logger;
}

export class ClusterNode {
  readonly client: KubeClient;
  readonly status: NodeStatusManager;
  readonly lease: NodeLeaseController;

  private constructor(client: KubeClient, status: NodeStatusManager, lease: NodeLeaseController) {
    this.client = client;
    this.status = status;
    this.lease = lease;
  }

  /** Reads the kubeconfig, rejecting when it cannot be used; start() then begins the work. */
  static async connect(options: ClusterNodeOptions): Promise<ClusterNode> {
    const { cluster, logger } = options;
    const system = await readNodeSystemInfo(options.runtimeVersion);
    const client = await KubeClient.fromKubeconfig(cluster.kubeconfig, userAgent('dockerlet'));
    const status = new NodeStatusManager({
      client,
      settings: { nodeName: options.nodeName, hostname: options.nodeName, nodeIPs: options.hostIPs, kubeletPort: options.kubeletPort, system },
      nodeLabels: cluster.nodeLabels,
      taints: [...cluster.registerWithTaints],
      observe: () => observeNode({ rootDir: options.rootDir, maxPods: cluster.maxPods, runtimeUp: options.runtimeUp }),
      updateFrequencyMs: cluster.nodeStatusUpdateFrequencyMs,
      reportFrequencyMs: cluster.nodeStatusReportFrequencyMs,
      recorder: options.recorder,
      clock: options.clock,
      logger: logger.child({ component: 'node-status' }),
    });
    const lease = new NodeLeaseController({
      client,
      nodeName: options.nodeName,
      nodeUid: () => status.uid,
      leaseDurationSeconds: cluster.nodeLeaseDurationSeconds,
      clock: options.clock,
      logger: logger.child({ component: 'node-lease' }),
    });
    logger.info({ server: client.server, node: options.nodeName }, 'joining the cluster');
    return new ClusterNode(client, status, lease);
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
