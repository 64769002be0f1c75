/** The agent's answers to the kubelet HTTP API (see server/kubelet-api.ts). */
import type { Readable } from 'node:stream';
import { DockerletError } from '../common/api/errors.js';
import type { Pod } from '../common/api/types.js';
import type { PodConfig } from './config/pod-config.js';
import type { KubeletMetrics } from './metrics/kubelet-metrics.js';
import type { GenericPleg } from './pleg/pleg.js';
import type { ContainerRuntime, PodRef } from './runtime/runtime.js';
import type { ContainerLogRequest, HealthCheck, KubeletApi } from './server/kubelet-api.js';
import type { SummaryProvider } from './stats/summary-provider.js';
import type { Summary } from './stats/summary.js';

export interface NodeApiOptions {
  podConfig: PodConfig;
  summary: SummaryProvider;
  podsWithStatus(): Pod[];
  pleg: GenericPleg;
  runtime: ContainerRuntime;
  metrics: KubeletMetrics;
  healthChecks(): HealthCheck[];
}

export class NodeApi implements KubeletApi {
  readonly #o: NodeApiOptions;

  constructor(options: NodeApiOptions) {
    this.#o = options;
  }

  pods(): Pod[] {
    return this.#o.podsWithStatus();
  }

  /** Like the kubelet's GetPods(all=false): pods with a running sandbox or container, and their running containers. */
  async runningPods(): Promise<Pod[]> {
    const listed = await this.#o.runtime.listPods();
    return listed
      .filter(({ sandboxes, containers }) => sandboxes.some((s) => s.state === 'ready') || containers.some((c) => c.state === 'running'))
      .map(({ pod, containers }) => ({
        metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
        spec: { containers: containers.filter((c) => c.state === 'running').map((c) => ({ name: c.name, image: c.image })) },
      }));
  }

  async containerLogs(request: ContainerLogRequest): Promise<Readable> {
    const ref = this.#findPod(request.namespace, request.pod);
    const instances = (await this.#o.runtime.getPodStatus(ref)).containers.filter((c) => c.name === request.container);
    const podName = `${request.namespace}/${request.pod}`;
    const target = request.previous ? instances[1] : instances[0];
    if (!target) {
      throw new DockerletError(
        'DKL_ERR_BAD_REQUEST',
        request.previous
          ? `previous terminated container "${request.container}" in pod "${podName}" not found`
          : `container "${request.container}" in pod "${podName}" is waiting to start or does not exist`,
      );
    }
    return this.#o.runtime.containerLogs(target.id, {
      follow: request.follow,
      timestamps: request.timestamps,
      ...(request.tailLines !== undefined ? { tailLines: request.tailLines } : {}),
      ...(request.sinceSeconds !== undefined ? { sinceSeconds: request.sinceSeconds } : {}),
      signal: request.signal,
    });
  }

  healthChecks(): HealthCheck[] {
    return this.#o.healthChecks();
  }

  statsSummary(options: { onlyCpuAndMemory: boolean }): Promise<Summary> {
    return this.#o.summary.summary(options);
  }

  async metrics(which: 'all' | 'probes'): Promise<{ contentType: string; body: string }> {
    const registry = which === 'probes' ? this.#o.metrics.probesRegistry : this.#o.metrics.registry;
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  #findPod(namespace: string, name: string): PodRef {
    const desired = this.#o.podConfig.pods().find((p) => p.metadata.namespace === namespace && p.metadata.name === name);
    if (desired) return { uid: desired.metadata.uid, name, namespace };
    const running = this.#o.pleg.runningPods().find((p) => p.pod.namespace === namespace && p.pod.name === name);
    if (running) return running.pod;
    throw new DockerletError('DKL_ERR_NOT_FOUND', `pods "${name}" not found in namespace "${namespace}"`);
  }
}
