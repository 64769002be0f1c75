/**
 * The kubelet's Summary API (stats/v1alpha1, GET /stats/summary) in its JSON shape, and the
 * CPU rates it carries: usageNanoCores is the CPU time used since an earlier sample of the same
 * thing divided by the time between them, so the first summary after a container starts has
 * none for it, as the kubelet's has none before cAdvisor's second sample.
 */
import { rfc3339 } from '../../common/util/clock.js';

export interface CpuSample {
  /** ms since the epoch. */
  timestamp: number;
  usageCoreNanoSeconds: number;
}

export interface MemoryStats {
  availableBytes?: number;
  usageBytes: number;
  workingSetBytes: number;
  rssBytes: number;
  pageFaults: number;
  majorPageFaults: number;
}

export interface FsStats {
  availableBytes: number;
  capacityBytes: number;
  usedBytes: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}

export interface InterfaceStats {
  name: string;
  rxBytes: number;
  rxErrors: number;
  txBytes: number;
  txErrors: number;
}

type Timed<T> = T & { time: string };
export type CpuStats = Timed<{ usageNanoCores?: number; usageCoreNanoSeconds: number }>;

export interface ContainerSummary {
  name: string;
  startTime: string;
  cpu: CpuStats;
  memory: Timed<MemoryStats>;
}

export interface PodSummary {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerSummary[];
  cpu?: CpuStats;
  memory?: Timed<MemoryStats>;
  network?: Timed<InterfaceStats & { interfaces: InterfaceStats[] }>;
  volume?: Array<Timed<FsStats> & { name: string; pvcRef?: { name: string; namespace: string } }>;
}

export interface Summary {
  node: {
    nodeName: string;
    startTime: string;
    cpu: CpuStats;
    memory: Timed<MemoryStats>;
    fs?: Timed<FsStats>;
    /** The runtime's file systems: where images, and containers' writable layers, are. */
    runtime?: { imageFs: Timed<FsStats>; containerFs: Timed<FsStats> };
    rlimit: Timed<{ maxpid: number; curproc: number }>;
  };
  pods: PodSummary[];
}

/**
 * The reference sample of each thing measured (the node, a container by ID), for the rates. A
 * reference is replaced only by a sample at least MinWindowMs later, so that requests close
 * together (several scrapers, or two at once) still measure over a real window.
 */
export class CpuRates {
  static readonly MinWindowMs = 1_000;
  readonly #reference = new Map<string, CpuSample>();

  /** `sample` as CpuStats, with usageNanoCores when `key` has an earlier reference. */
  stats(key: string, sample: CpuSample): CpuStats {
    const before = this.#reference.get(key);
    const elapsedMs = before ? sample.timestamp - before.timestamp : 0;
    const used = before ? sample.usageCoreNanoSeconds - before.usageCoreNanoSeconds : 0;
    if (!before || elapsedMs >= CpuRates.MinWindowMs) this.#reference.set(key, sample);
    return {
      time: rfc3339(sample.timestamp),
      ...(before && elapsedMs > 0 && used >= 0 ? { usageNanoCores: Math.round((used * 1000) / elapsedMs) } : {}),
      usageCoreNanoSeconds: sample.usageCoreNanoSeconds,
    };
  }

  /** Forgets the references of everything but `keys` (containers that are gone). */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.#reference.keys()) if (!keys.has(key)) this.#reference.delete(key);
  }
}

export const timed = <T extends object>(value: T, timestamp: number): Timed<T> => ({ time: rfc3339(timestamp), ...value });
