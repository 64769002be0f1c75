/**
 * The node in the API server, as the kubelet keeps it (kubelet_node_status.go):
 * - registration: create the Node (retrying with a backoff from 100 ms to 7 s until it is
 *   there); when it exists already, adopt it, setting only its default labels (hostname, os,
 *   arch) where they differ, as the kubelet's updateDefaultLabels does;
 * - status: computed every nodeStatusUpdateFrequency (10 s) from the Node as the API server has it
 *   (read from its cache, as tryUpdateNodeStatus reads it), and PATCHed (strategic merge) when it
 *   changed, when its conditions differ from the API server's (the node controller marked the
 *   node Unknown, say: put right within one period, not at the next report), or when
 *   nodeStatusReportFrequency (5 min) has passed since the last report; up to five tries each
 *   time (nodeStatusUpdateRetry). The Lease is the heartbeat in between.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import type { Node, NodeCondition, NodeStatus } from '../../common/api/types.js';
import type { EventRecorder, InvolvedObject } from '../events/recorder.js';
import { isApiStatus, type KubeApi } from '../../common/kube-api/kube-client.js';
import { delay, type Clock } from '../../common/util/clock.js';
import { retryUntilDone } from '../../common/util/retry.js';
import { computeNodeStatus, defaultNodeLabels, nodeConditionsChanged, nodeStatusChanged, registrationNode, type NodeObservation, type NodeStatusSettings } from './node-status.js';

export interface NodeStatusManagerOptions {
  client: KubeApi;
  settings: NodeStatusSettings;
  /** --node-labels, set at registration. */
  nodeLabels: Readonly<Record<string, string>>;
  /** --register-with-taints, set at registration. */
  taints: NonNullable<Node['spec']>['taints'];
  observe(): Promise<NodeObservation>;
  /** Takes what the node gets from its Node (its pod subnet) from the Node just read, before the status is computed from it. */
  applyNodeSpec?(node: Node): Promise<void>;
  updateFrequencyMs: number;
  reportFrequencyMs: number;
  /** The node's events: Starting once registered, then each condition as it changes. */
  recorder: EventRecorder;
  clock: Clock;
  logger: Logger;
}

/** The kubelet's event reason for a node condition's status (kubelet_node_status.go's setters). */
const ConditionEvents: Record<string, Record<string, string>> = {
  MemoryPressure: { True: 'NodeHasInsufficientMemory', False: 'NodeHasSufficientMemory' },
  DiskPressure: { True: 'NodeHasDiskPressure', False: 'NodeHasNoDiskPressure' },
  PIDPressure: { True: 'NodeHasInsufficientPID', False: 'NodeHasSufficientPID' },
  Ready: { True: 'NodeReady', False: 'NodeNotReady' },
};

const RegisterInitialMs = 100;
const RegisterMaxMs = 7_000;
/** nodeStatusUpdateRetry. */
const UpdateTries = 5;

export class NodeStatusManager {
  readonly #options: NodeStatusManagerOptions;
  readonly #stop = new AbortController();
  #uid: string | undefined;
  #reported: NodeStatus | undefined;
  #reportedAt = 0;
  #loop: Promise<void> | undefined;
  #registered: Promise<void>;
  #markRegistered!: () => void;

  constructor(options: NodeStatusManagerOptions) {
    this.#options = options;
    this.#registered = new Promise((resolve) => (this.#markRegistered = resolve));
  }

  /** The Node's UID once registered (owner of the Lease and of mirror pods). */
  get uid(): string | undefined {
    return this.#uid;
  }

  /** Resolves once the Node is registered (or adopted). */
  registered(): Promise<void> {
    return this.#registered;
  }

  start(): void {
    this.#loop ??= this.#run(this.#stop.signal);
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#markRegistered();
    await this.#loop;
  }

  /** Creates the Node, or adopts the one there; throws when neither worked. */
  async register(): Promise<void> {
    const { client, settings, nodeLabels, taints } = this.#options;
    const status = await this.#compute();
    let node: Node;
    try {
      node = await client.create<Node>('/api/v1/nodes', registrationNode(settings, nodeLabels, taints, status));
      this.#options.logger.info({ node: settings.nodeName }, 'registered the node');
    } catch (err) {
      if (!isApiStatus(err, 409)) throw err;
      node = await this.#adopt();
    }
    this.#uid = node.metadata?.uid;
    this.#markRegistered();
    this.#options.recorder.event(this.#nodeRef(), 'Normal', 'Starting', 'Starting kubelet.');
  }

  /**
   * Computes the status; PATCHes it when it changed, differs from the API server's, or is due
   * (tryUpdateNodeStatus, tried five times: the Node is read each try, from the API server's
   * cache the first time, from storage after a failure). Resolves with whether it was sent.
   */
  async update(): Promise<boolean> {
    let lastError: unknown;
    for (let attempt = 0; attempt < UpdateTries; attempt++) {
      try {
        return await this.#tryUpdate(attempt === 0);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  async #tryUpdate(fromCache: boolean): Promise<boolean> {
    const { client, settings } = this.#options;
    const node = await client.get<Node>(`/api/v1/nodes/${settings.nodeName}`, fromCache ? { query: { resourceVersion: '0' } } : {});
    const inApi = node.status?.conditions ?? [];
    // As the kubelet's tryUpdateNodeStatus gives the runtime the Node's pod CIDR before setting the status.
    await this.#options.applyNodeSpec?.(node);
    const status = await this.#compute(inApi);
    const due = this.#options.clock.now() - this.#reportedAt >= this.#options.reportFrequencyMs;
    if (!due && !nodeStatusChanged(this.#reported, status) && !nodeConditionsChanged(inApi, status.conditions ?? [])) return false;
    await client.patch(`/api/v1/nodes/${settings.nodeName}/status`, statusPatch(status));
    // Events for what changed since the API server's conditions; all of them the first time.
    this.#recordTransitions(this.#reported ? inApi : [], status);
    this.#reported = status;
    this.#reportedAt = this.#options.clock.now();
    return true;
  }

  /** The kubelet's node reference: its UID is the node's name. */
  #nodeRef(): InvolvedObject {
    const name = this.#options.settings.nodeName;
    return { kind: 'Node', name, uid: name };
  }

  /** An event for each condition whose status is not the one it had `before`. */
  #recordTransitions(before: readonly NodeCondition[], after: NodeStatus): void {
    for (const condition of after.conditions ?? []) {
      if (before.find((c) => c.type === condition.type)?.status === condition.status) continue;
      const reason = ConditionEvents[condition.type]?.[condition.status];
      if (reason) this.#options.recorder.event(this.#nodeRef(), 'Normal', reason, `Node ${this.#options.settings.nodeName} status is now: ${reason}`);
    }
  }

  async #adopt(): Promise<Node> {
    const { client, settings } = this.#options;
    const existing = await client.get<Node>(`/api/v1/nodes/${settings.nodeName}`);
    const wanted = defaultNodeLabels(settings, {});
    const stale = Object.entries(wanted).filter(([key, value]) => existing.metadata?.labels?.[key] !== value);
    this.#options.logger.info({ node: settings.nodeName, labelsSet: stale.map(([key]) => key) }, 'the node was registered before: adopting it');
    if (stale.length === 0) return existing;
    return client.patch<Node>(`/api/v1/nodes/${settings.nodeName}`, { metadata: { labels: Object.fromEntries(stale) } });
  }

  /** The status now; a condition keeps its transition time while its status stays what `previous` says. */
  async #compute(previous: readonly NodeCondition[] = []): Promise<NodeStatus> {
    const observation = await this.#options.observe();
    return computeNodeStatus(this.#options.settings, observation, previous, new Date(this.#options.clock.now()));
  }

  async #run(signal: AbortSignal): Promise<void> {
    await retryUntilDone(() => this.register(), {
      initialMs: RegisterInitialMs,
      maxMs: RegisterMaxMs,
      signal,
      onError: (err, retryInMs) => this.#options.logger.warn({ err: errorMessage(err), retryInMs }, 'unable to register the node with the API server, will retry'),
    });
    while (!signal.aborted) {
      try {
        await this.update();
      } catch (err) {
        this.#options.logger.warn({ err: errorMessage(err) }, 'unable to update the node status');
      }
      await delay(this.#options.updateFrequencyMs, signal);
    }
  }
}

/** The status as a strategic merge patch: conditions merge by type; addresses are replaced whole (two InternalIPs would merge into one). */
function statusPatch(status: NodeStatus): { status: Record<string, unknown> } {
  return { status: { ...status, addresses: [{ $patch: 'replace' }, ...(status.addresses ?? [])] } };
}
