/**
 * Builds the Summary the kubelet serves at /stats/summary: the node's figures (node-stats.ts),
 * and for each pod with a ready sandbox or a running container on the runtime, each running
 * container's CPU and memory (Docker's stats: runtime.containerStats, a pod's containers sampled
 * together), the pod's as their sums (its CPU rate only when every container has one: a sum of
 * lifetime counters across a restart is no rate), its network from its sandbox's interfaces,
 * and its volumes' usage (VolumeManager.volumeStats, cached for a minute). With onlyCpuAndMemory
 * (?only_cpu_and_memory=true, what metrics consumers ask for) the file system, network and
 * volume figures are left out, and so is the cost of the network's and volumes'. A container that cannot be sampled is
 * left out, logged; the request goes on.
 */
import { errorMessage } from '../../common/api/errors.js';
import type { DefaultedPod } from '../../common/api/types.js';
import type { Logger } from 'pino';
import type { ContainerRuntime, ContainerStats, RunningPod } from '../runtime/runtime.js';
import type { Clock } from '../../common/util/clock.js';
import { rfc3339 } from '../../common/util/clock.js';
import type { VolumeManager, VolumeStats } from '../volumes/volume-manager.js';
import type { FsInfo } from '../../common/util/fs-usage.js';
import { readNodeStats } from './node-stats.js';
import { CpuRates, timed, type ContainerSummary, type PodSummary, type Summary } from './summary.js';

export interface SummaryProviderOptions {
  nodeName: string;
  rootDir: string;
  runtime: ContainerRuntime;
  /** The desired pod with this UID, for its volumes and start time. */
  pod(uid: string): { pod: DefaultedPod; startTime?: string } | undefined;
  volumes: VolumeManager;
  /** The image fs's figures (ImageGCManager.imageFsStats). */
  imageFs(): Promise<FsInfo>;
  clock: Clock;
  logger: Logger;
}

export class SummaryProvider {
  readonly #o: SummaryProviderOptions;
  readonly #rates = new CpuRates();

  constructor(options: SummaryProviderOptions) {
    this.#o = options;
  }

  async summary(options: { onlyCpuAndMemory: boolean }): Promise<Summary> {
    const now = this.#o.clock.now();
    const [node, listed, imageFs] = await Promise.all([
      readNodeStats(this.#o.rootDir, now),
      this.#o.runtime.listPods(),
      options.onlyCpuAndMemory
        ? undefined
        : this.#o.imageFs().catch((err: unknown) => {
            this.#o.logger.warn({ err: errorMessage(err) }, 'reading the image fs failed: the summary goes without it');
            return undefined;
          }),
    ]);
    this.#rates.retain(new Set(['node', ...listed.flatMap((p) => p.containers.map((c) => c.id))]));
    const pods: PodSummary[] = [];
    for (const running of listed) {
      const pod = await this.#podSummary(running, options.onlyCpuAndMemory);
      if (pod) pods.push(pod);
    }
    return {
      node: {
        nodeName: this.#o.nodeName,
        startTime: rfc3339(node.startTime),
        cpu: this.#rates.stats('node', node.cpu),
        memory: timed(node.memory, now),
        ...(options.onlyCpuAndMemory ? {} : { fs: timed(node.fs, now) }),
        // The writable layers are on the image fs too: containerFs is the same file system.
        ...(imageFs ? { runtime: { imageFs: timed(imageFs, now), containerFs: timed(imageFs, now) } } : {}),
        rlimit: timed(node.rlimit, now),
      },
      pods,
    };
  }

  /** A pod with a ready sandbox or a running container; undefined for one with neither. */
  async #podSummary(running: RunningPod, onlyCpuAndMemory: boolean): Promise<PodSummary | undefined> {
    const sandbox = running.sandboxes.find((s) => s.state === 'ready');
    const live = running.containers.filter((c) => c.state === 'running');
    if (!sandbox && live.length === 0) return undefined;
    const sampled = await Promise.all(live.map(async (container) => ({ container, stats: await this.#stats(container.id) })));
    const containers: ContainerSummary[] = [];
    const samples: ContainerStats[] = [];
    for (const { container, stats } of sampled) {
      if (!stats) continue;
      samples.push(stats);
      containers.push({
        name: container.name,
        startTime: rfc3339(container.createdAt),
        cpu: this.#rates.stats(container.id, { timestamp: stats.timestamp, usageCoreNanoSeconds: stats.cpuUsageCoreNanoSeconds }),
        memory: timed(stats.memory, stats.timestamp),
      });
    }
    const { uid } = running.pod;
    const desired = this.#o.pod(uid);
    const now = this.#o.clock.now();
    const sum = (value: (s: ContainerStats) => number): number => samples.reduce((total, s) => total + value(s), 0);
    const rates = containers.map((c) => c.cpu.usageNanoCores);
    const network = !onlyCpuAndMemory && sandbox ? (await this.#stats(sandbox.id))?.networks : undefined;
    const eth0 = network?.find((n) => n.name === 'eth0') ?? network?.[0];
    const volumes = !onlyCpuAndMemory && desired ? await this.#volumeStats(desired.pod) : [];
    return {
      podRef: { name: running.pod.name, namespace: running.pod.namespace, uid },
      startTime: desired?.startTime ?? rfc3339(Math.min(...(sandbox ? [sandbox.createdAt] : []), ...live.map((c) => c.createdAt))),
      containers,
      cpu: {
        time: rfc3339(now),
        ...(rates.length > 0 && rates.every((rate) => rate !== undefined) ? { usageNanoCores: rates.reduce((total, rate) => total + rate, 0) } : {}),
        usageCoreNanoSeconds: sum((s) => s.cpuUsageCoreNanoSeconds),
      },
      memory: timed(
        {
          usageBytes: sum((s) => s.memory.usageBytes),
          workingSetBytes: sum((s) => s.memory.workingSetBytes),
          rssBytes: sum((s) => s.memory.rssBytes),
          pageFaults: sum((s) => s.memory.pageFaults),
          majorPageFaults: sum((s) => s.memory.majorPageFaults),
        },
        now,
      ),
      ...(eth0 ? { network: timed({ ...eth0, interfaces: network! }, now) } : {}),
      ...(volumes.length > 0 ? { volume: volumes.map((v) => timed(v, now)) } : {}),
    };
  }

  /** A pod's volumes' usage; when it cannot be read, the pod's summary goes without it (logged), and every other pod's is unaffected. */
  async #volumeStats(pod: DefaultedPod): Promise<VolumeStats[]> {
    try {
      return await this.#o.volumes.volumeStats(pod);
    } catch (err) {
      this.#o.logger.warn({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, err: errorMessage(err) }, 'reading the volumes\' usage failed');
      return [];
    }
  }

  /** A container's sample; one that cannot be read is left out of the summary, logged. */
  async #stats(id: string): Promise<ContainerStats | undefined> {
    try {
      return await this.#o.runtime.containerStats(id);
    } catch (err) {
      this.#o.logger.debug({ containerID: id.slice(0, 12), err: errorMessage(err) }, 'reading container stats failed');
      return undefined;
    }
  }
}
