/** The agent's answers to the kubelet HTTP API (see server/kubelet-api.ts). */
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from 'pino';
import { DockerletError, errorMessage } from '../common/api/errors.js';
import { ResourceMetricsContentType, resourceMetricsText } from './stats/resource-metrics.js';
import type { PersistentVolumeClaim, Pod } from '../common/api/types.js';
import type { PodConfig } from './config/pod-config.js';
import type { KubeletMetrics } from './metrics/kubelet-metrics.js';
import type { GenericPleg } from './pleg/pleg.js';
import type { ContainerRuntime, PodRef } from './runtime/runtime.js';
import type { ContainerLogRequest, ContainerStreams, ContainerTarget, HealthCheck, KubeletApi, PodTarget } from './server/kubelet-api.js';
import type { SummaryProvider } from './stats/summary-provider.js';
import type { Summary } from './stats/summary.js';

export interface NodeApiOptions {
  podConfig: PodConfig;
  summary: SummaryProvider;
  podsWithStatus(): Pod[];
  /** The claims the manifest sources declare, with their status. */
  persistentVolumeClaims(): Promise<PersistentVolumeClaim[]>;
  pleg: GenericPleg;
  runtime: ContainerRuntime;
  metrics: KubeletMetrics;
  healthChecks(): HealthCheck[];
  logger: Logger;
}

/** /run answers with the command's output: as much as an exec probe keeps, and then some. */
const MaxRunOutputBytes = 1024 * 1024;

export class NodeApi implements KubeletApi {
  readonly #o: NodeApiOptions;

  constructor(options: NodeApiOptions) {
    this.#o = options;
  }

  pods(): Pod[] {
    return this.#o.podsWithStatus();
  }

  persistentVolumeClaims(): Promise<PersistentVolumeClaim[]> {
    return this.#o.persistentVolumeClaims();
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

  async containerStreams(target: ContainerTarget): Promise<ContainerStreams> {
    const { id, tty } = await this.#runningContainer(target);
    const runtime = this.#o.runtime;
    return {
      tty,
      exec: (command, streams) => runtime.exec(id, command, streams),
      attach: (streams) => runtime.attach(id, streams),
    };
  }

  async run(target: ContainerTarget, command: readonly string[]): Promise<string> {
    const { id } = await this.#runningContainer(target);
    const { exitCode, output } = await this.#o.runtime.execSync(id, command, { maxOutputBytes: MaxRunOutputBytes });
    // As the CRI's ExecSync: a command that fails is an error, its output in the message.
    if (exitCode !== 0) throw new DockerletError('DKL_ERR_RUNTIME', `command '${command.join(' ')}' exited with ${exitCode}: ${output}`);
    return output;
  }

  async podPorts(target: PodTarget): Promise<{ uid: string; connect(port: number): Promise<Duplex> }> {
    const ref = this.#findPod(target.namespace, target.pod, target.uid);
    const sandbox = (await this.#o.runtime.getPodStatus(ref)).sandboxes.find((s) => s.state === 'ready');
    if (!sandbox) throw new DockerletError('DKL_ERR_NOT_FOUND', `pod "${target.namespace}/${target.pod}" has no running sandbox`);
    return { uid: ref.uid, connect: (port) => this.#o.runtime.portForward(sandbox.id, port) };
  }

  healthChecks(): HealthCheck[] {
    return this.#o.healthChecks();
  }

  statsSummary(options: { onlyCpuAndMemory: boolean }): Promise<Summary> {
    return this.#o.summary.summary(options);
  }

  async metrics(which: 'all' | 'probes' | 'resource'): Promise<{ contentType: string; body: string }> {
    if (which === 'resource') {
      const summary = await this.#o.summary.summary({ onlyCpuAndMemory: true }).catch((err: unknown) => {
        this.#o.logger.warn({ err: errorMessage(err) }, 'no summary for /metrics/resource');
        return undefined;
      });
      return { contentType: ResourceMetricsContentType, body: resourceMetricsText(summary) };
    }
    const registry = which === 'probes' ? this.#o.metrics.probesRegistry : this.#o.metrics.registry;
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  /** The pod's running container `target.container` (as the kubelet's findContainer, among running containers only). */
  async #runningContainer(target: ContainerTarget): Promise<{ id: string; tty: boolean }> {
    const ref = this.#findPod(target.namespace, target.pod, target.uid);
    const running = (await this.#o.runtime.getPodStatus(ref)).containers.find((c) => c.name === target.container && c.state === 'running');
    if (!running) throw new DockerletError('DKL_ERR_NOT_FOUND', `container not found (${JSON.stringify(target.container)})`);
    const spec = this.#o.podConfig.pod(ref.uid);
    const container = [...(spec?.spec.containers ?? []), ...(spec?.spec.initContainers ?? [])].find((c) => c.name === target.container);
    return { id: running.id, tty: container?.tty === true };
  }

  /** The pod by name, desired or still running; with `uid`, only that instance of it. */
  #findPod(namespace: string, name: string, uid?: string): PodRef {
    const matches = (ref: PodRef): boolean => ref.namespace === namespace && ref.name === name && (uid === undefined || ref.uid === uid);
    const desired = this.#o.podConfig.pods().find((p) => matches({ uid: p.metadata.uid, name: p.metadata.name, namespace: p.metadata.namespace }));
    if (desired) return { uid: desired.metadata.uid, name, namespace };
    const running = this.#o.pleg.runningPods().find((p) => matches(p.pod));
    if (running) return running.pod;
    throw new DockerletError('DKL_ERR_NOT_FOUND', `pods "${name}" not found in namespace "${namespace}"`);
  }
}
