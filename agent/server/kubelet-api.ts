/** What the kubelet's HTTP server serves, independent of HTTP: implemented by the agent, faked in tests. */
import type { Readable } from 'node:stream';
import type { Pod } from '../../common/api/types.js';
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

export interface KubeletApi {
  /** The pods this node should run, with their status. */
  pods(): Pod[];
  /** The pods the runtime has right now. */
  runningPods(): Promise<Pod[]>;
  /** Throws DKL_ERR_NOT_FOUND when the pod, container or instance does not exist. */
  containerLogs(request: ContainerLogRequest): Promise<Readable>;
  healthChecks(): HealthCheck[];
  /** The Summary API: the node's and each running pod's usage. */
  statsSummary(options: { onlyCpuAndMemory: boolean }): Promise<Summary>;
  /** Prometheus text: every metric (`all`), or only the prober's, as /metrics/probes. */
  metrics(which: 'all' | 'probes'): Promise<{ contentType: string; body: string }>;
}
