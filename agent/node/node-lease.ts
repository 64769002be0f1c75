/**
 * The node's heartbeat: a Lease named after the node in kube-node-lease, held by the node and
 * renewed every leaseDuration/4 (10 s for the default 40 s), as the kubelet's nodelease
 * controller does. The Lease is owned by the Node, so it goes when the Node is deleted. A failed
 * renewal is retried with a backoff from 200 ms to 7 s; a conflict reads the Lease afresh.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/api/errors.js';
import { isApiConflict, isApiNotFound, type KubeApi } from '../../common/kube-api/kube-client.js';
import { delay, type Clock } from '../../common/util/clock.js';

export const NodeLeaseNamespace = 'kube-node-lease';

export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string }>;
  };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string };
}

export interface NodeLeaseOptions {
  client: KubeApi;
  nodeName: string;
  /** The Node's UID, for the Lease's owner reference. */
  nodeUid(): string | undefined;
  leaseDurationSeconds: number;
  clock: Clock;
  logger: Logger;
}

const RetryInitialMs = 200;
const RetryMaxMs = 7_000;

/** metav1.MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class NodeLeaseController {
  readonly #options: NodeLeaseOptions;
  readonly #path: string;
  readonly #stop = new AbortController();
  #latest: Lease | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: NodeLeaseOptions) {
    this.#options = options;
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${NodeLeaseNamespace}/leases/${options.nodeName}`;
  }

  get renewIntervalMs(): number {
    return (this.#options.leaseDurationSeconds * 1000) / 4;
  }

  start(): void {
    this.#loop ??= this.#run(this.#stop.signal);
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  /** Renews the Lease once, creating it if there is none. */
  async renew(): Promise<void> {
    const lease = this.#latest ?? (await this.#read());
    const renewed = this.#desired(lease);
    try {
      this.#latest = lease
        ? await this.#options.client.replace<Lease>(this.#path, renewed)
        : await this.#options.client.create<Lease>(`/apis/coordination.k8s.io/v1/namespaces/${NodeLeaseNamespace}/leases`, renewed);
    } catch (err) {
      // Someone else wrote it, or it went: read it afresh next time.
      if (isApiConflict(err) || isApiNotFound(err)) this.#latest = undefined;
      throw err;
    }
  }

  async #read(): Promise<Lease | undefined> {
    try {
      return await this.#options.client.get<Lease>(this.#path);
    } catch (err) {
      if (isApiNotFound(err)) return undefined;
      throw err;
    }
  }

  #desired(current: Lease | undefined): Lease {
    const { nodeName, leaseDurationSeconds } = this.#options;
    const uid = this.#options.nodeUid();
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...current?.metadata,
        name: nodeName,
        namespace: NodeLeaseNamespace,
        ...(uid && !current?.metadata.ownerReferences?.length ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid }] } : {}),
      },
      spec: { ...current?.spec, holderIdentity: nodeName, leaseDurationSeconds, renewTime: microTime(this.#options.clock.now()) },
    };
  }

  async #run(signal: AbortSignal): Promise<void> {
    let retryMs = RetryInitialMs;
    while (!signal.aborted) {
      try {
        await this.renew();
        retryMs = RetryInitialMs;
        await delay(this.renewIntervalMs, signal);
      } catch (err) {
        this.#options.logger.warn({ err: errorMessage(err), retryInMs: retryMs }, 'failed to renew the node lease, will retry');
        await delay(retryMs, signal);
        retryMs = Math.min(retryMs * 2, RetryMaxMs);
      }
    }
  }
}
