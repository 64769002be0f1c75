import { describe, expect, test } from 'vitest';
import { containerStatsFromDocker } from '../../../../agent/runtime/docker/stats.js';
import { bootTime, cpuUsageNanoSeconds, nodeMemory } from '../../../../agent/stats/node-stats.js';
import { CpuRates } from '../../../../agent/stats/summary.js';

describe('containerStatsFromDocker', () => {
  test('cgroup v1: the total_* counters; working set is usage less inactive file pages', () => {
    const stats = containerStatsFromDocker({
      read: '2026-11-23T08:00:00.5Z',
      cpu_stats: { cpu_usage: { total_usage: 32_656_953 } },
      memory_stats: { usage: 10_000_000, stats: { total_inactive_file: 4_000_000, total_rss: 5_000_000, total_pgfault: 1149, total_pgmajfault: 2, inactive_file: 1 } },
    });
    expect(stats).toEqual({
      timestamp: Date.parse('2026-11-23T08:00:00.5Z'),
      cpuUsageCoreNanoSeconds: 32_656_953,
      memory: { usageBytes: 10_000_000, workingSetBytes: 6_000_000, rssBytes: 5_000_000, pageFaults: 1149, majorPageFaults: 2 },
    });
  });

  test('cgroup v2: anon and inactive_file; the network interfaces of a sandbox', () => {
    const stats = containerStatsFromDocker({
      read: '2026-11-23T08:00:00Z',
      cpu_stats: { cpu_usage: { total_usage: 7 } },
      memory_stats: { usage: 3_000, stats: { inactive_file: 5_000, anon: 1_000, pgfault: 3, pgmajfault: 0 } },
      networks: { eth0: { rx_bytes: 100, rx_errors: 1, tx_bytes: 50, tx_errors: 0 } },
    });
    expect(stats.memory).toEqual({ usageBytes: 3_000, workingSetBytes: 0, rssBytes: 1_000, pageFaults: 3, majorPageFaults: 0 });
    expect(stats.networks).toEqual([{ name: 'eth0', rxBytes: 100, rxErrors: 1, txBytes: 50, txErrors: 0 }]);
  });
});

describe('node figures from /proc', () => {
  const procStat = 'cpu  100 20 30 4000 50 6 7 8 0 0\ncpu0 50 10 15 2000 25 3 3 4 0 0\nintr 1\nbtime 1763884800\n';
  test('CPU time is every state but idle, iowait and steal, in USER_HZ ticks of 10 ms; the boot time from btime', () => {
    expect(cpuUsageNanoSeconds(procStat)).toBe((100 + 20 + 30 + 6 + 7) * 1e7);
    expect(bootTime(procStat)).toBe(1763884800_000);
  });

  test('memory: usage is total less free, working set less inactive file pages; faults from vmstat', () => {
    const meminfo = 'MemTotal:       1000 kB\nMemFree:         200 kB\nMemAvailable:    600 kB\nInactive(file):  300 kB\nAnonPages:       150 kB\n';
    expect(nodeMemory(meminfo, 'pgfault 42\npgmajfault 3\n')).toEqual({
      // The kubelet's: capacity less working set (not MemAvailable).
      availableBytes: 500 * 1024,
      usageBytes: 800 * 1024,
      workingSetBytes: 500 * 1024,
      rssBytes: 150 * 1024,
      pageFaults: 42,
      majorPageFaults: 3,
    });
  });
});

describe('CpuRates', () => {
  test('usageNanoCores from the second sample on: CPU time used over the time since the reference sample', () => {
    const rates = new CpuRates();
    expect(rates.stats('c', { timestamp: 0, usageCoreNanoSeconds: 1e9 })).toEqual({ time: '1970-01-01T00:00:00Z', usageCoreNanoSeconds: 1e9 });
    // Half a core for two seconds.
    expect(rates.stats('c', { timestamp: 2000, usageCoreNanoSeconds: 2e9 }).usageNanoCores).toBe(5e8);
  });

  test('a sample less than a second after the reference does not replace it: close requests still measure a real window', () => {
    const rates = new CpuRates();
    rates.stats('c', { timestamp: 0, usageCoreNanoSeconds: 0 });
    expect(rates.stats('c', { timestamp: 10, usageCoreNanoSeconds: 1e7 }).usageNanoCores).toBe(1e9);
    // Measured against t=0 still: 1.5e9 ns over 1.5 s.
    expect(rates.stats('c', { timestamp: 1500, usageCoreNanoSeconds: 1.5e9 }).usageNanoCores).toBe(1e9);
  });

  test('what is no longer retained starts again without a rate', () => {
    const rates = new CpuRates();
    rates.stats('gone', { timestamp: 0, usageCoreNanoSeconds: 0 });
    rates.retain(new Set(['other']));
    expect(rates.stats('gone', { timestamp: 2000, usageCoreNanoSeconds: 5e9 })).not.toHaveProperty('usageNanoCores');
  });
});
