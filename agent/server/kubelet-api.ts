/** What the kubelet's HTTP server serves, independent of HTTP: implemented by the agent, faked in tests. */
import type { Duplex, Readable } from 'node:stream';
import type { PersistentVolumeClaim, Pod } from '../../common/api/types.js';
import type { AttachedProcess, StreamSelection } from '../runtime/runtime.js';
import type { Summary } from '../stats/summary.js';

export interface HealthCheck {
  name: string;
  ok: boolean;
  message?: string;
}

export interface ContainerLogRequest {
  namespace: string;
  pod: string;
  container: string;
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  signal: AbortSignal;
}

/** A pod by namespace and name, and by UID when the path gives one (/exec/{ns}/{pod}/{uid}/{container}). */
export interface PodTarget {
  namespace: string;
  pod: string;
  uid?: string;
}

export interface ContainerTarget extends PodTarget {
  container: string;
}

/** A running container a client streams to. */
export interface ContainerStreams {
  /** The container's spec.tty: attach uses the container's terminal, never the client's choice. */
  readonly tty: boolean;
  exec(command: readonly string[], streams: StreamSelection): Promise<AttachedProcess>;
  attach(streams: StreamSelection): Promise<AttachedProcess>;
}

export interface KubeletApi {
  /** The pods this node should run, with their status. */
  pods(): Pod[];
  /** The claims the manifest sources declare, with their status. */
  persistentVolumeClaims(): Promise<PersistentVolumeClaim[]>;
  /** The pods the runtime has right now. */
  runningPods(): Promise<Pod[]>;
  /** Throws DKL_ERR_NOT_FOUND when the pod, container or instance does not exist. */
  containerLogs(request: ContainerLogRequest): Promise<Readable>;
  /** Throws DKL_ERR_NOT_FOUND unless the pod exists and the container is running. */
  containerStreams(target: ContainerTarget): Promise<ContainerStreams>;
  /** Runs `command` in the running container and gives its output (/run). */
  run(target: ContainerTarget, command: readonly string[]): Promise<string>;
  /** A connection to `port` on the pod's localhost; throws DKL_ERR_NOT_FOUND for a pod without a running sandbox. */
  podPorts(target: PodTarget): Promise<{ uid: string; connect(port: number): Promise<Duplex> }>;
  healthChecks(): HealthCheck[];
  /** The Summary API: the node's and each running pod's usage. */
  statsSummary(options: { onlyCpuAndMemory: boolean }): Promise<Summary>;
  /** Prometheus text: every metric (`all`), the prober's (/metrics/probes), or the node's and containers' usage (/metrics/resource). */
  metrics(which: 'all' | 'probes' | 'resource'): Promise<{ contentType: string; body: string }>;
}
