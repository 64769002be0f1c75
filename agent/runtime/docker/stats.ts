/**
 * A container's resource usage from Docker's stats API (one sample, one-shot), as cAdvisor reads
 * the same cgroup counters for the kubelet's Summary API: CPU time used so far; memory usage,
 * working set (usage less inactive file pages, cAdvisor's definition), RSS and page faults, on
 * cgroup v1 (total_* counters) and v2 (anon, inactive_file) alike; the network interfaces when
 * the container has its own network namespace (a pod sandbox).
 */
import type { ContainerStats } from '../runtime.js';

export interface DockerStats {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; rx_errors?: number; tx_bytes?: number; tx_errors?: number }>;
}

export function containerStatsFromDocker(raw: DockerStats): ContainerStats {
  const counters = raw.memory_stats?.stats ?? {};
  const counter = (v1: string, v2: string): number => counters[v1] ?? counters[v2] ?? 0;
  const usageBytes = raw.memory_stats?.usage ?? 0;
  const inactiveFile = counter('total_inactive_file', 'inactive_file');
  const read = Date.parse(raw.read ?? '');
  return {
    timestamp: Number.isNaN(read) ? Date.now() : read,
    cpuUsageCoreNanoSeconds: raw.cpu_stats?.cpu_usage?.total_usage ?? 0,
    memory: {
      usageBytes,
      workingSetBytes: Math.max(0, usageBytes - inactiveFile),
      rssBytes: counter('total_rss', 'anon'),
      pageFaults: counter('total_pgfault', 'pgfault'),
      majorPageFaults: counter('total_pgmajfault', 'pgmajfault'),
    },
    ...(raw.networks
      ? {
          networks: Object.entries(raw.networks).map(([name, n]) => ({
            name,
            rxBytes: n.rx_bytes ?? 0,
            rxErrors: n.rx_errors ?? 0,
            txBytes: n.tx_bytes ?? 0,
            txErrors: n.tx_errors ?? 0,
          })),
        }
      : {}),
  };
}
