import { describe, expect, test } from 'vitest';
import { resourceMetricsText } from '../../../../agent/stats/resource-metrics.js';
import type { Summary } from '../../../../agent/stats/summary.js';

const time = '2026-12-02T10:00:00Z';
const memory = (workingSetBytes: number) => ({ time, usageBytes: workingSetBytes, workingSetBytes, rssBytes: 1, pageFaults: 0, majorPageFaults: 0 });

describe('resourceMetricsText', () => {
  test("the node's, each pod's and each container's CPU seconds and working set, stamped with their sample time", () => {
    const summary: Summary = {
      node: { nodeName: 'n1', startTime: time, cpu: { time, usageCoreNanoSeconds: 2_500_000_000 }, memory: memory(1000), rlimit: { time, maxpid: 10, curproc: 1 } },
      pods: [
        {
          podRef: { name: 'web "1"', namespace: 'default', uid: 'u1' },
          startTime: time,
          containers: [{ name: 'app', startTime: time, cpu: { time, usageCoreNanoSeconds: 500_000_000 }, memory: memory(200) }],
          cpu: { time, usageCoreNanoSeconds: 600_000_000 },
          memory: memory(250),
        },
      ],
    };
    const stamp = Date.parse(time);
    expect(resourceMetricsText(summary)).toBe(
      [
        '# HELP container_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the container in core-seconds',
        '# TYPE container_cpu_usage_seconds_total counter',
        `container_cpu_usage_seconds_total{container="app",pod="web \\"1\\"",namespace="default"} 0.5 ${stamp}`,
        '# HELP container_memory_working_set_bytes [ALPHA] Current working set of the container in bytes',
        '# TYPE container_memory_working_set_bytes gauge',
        `container_memory_working_set_bytes{container="app",pod="web \\"1\\"",namespace="default"} 200 ${stamp}`,
        '# HELP node_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the node in core-seconds',
        '# TYPE node_cpu_usage_seconds_total counter',
        `node_cpu_usage_seconds_total 2.5 ${stamp}`,
        '# HELP node_memory_working_set_bytes [ALPHA] Current working set of the node in bytes',
        '# TYPE node_memory_working_set_bytes gauge',
        `node_memory_working_set_bytes 1000 ${stamp}`,
        '# HELP pod_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the pod in core-seconds',
        '# TYPE pod_cpu_usage_seconds_total counter',
        `pod_cpu_usage_seconds_total{pod="web \\"1\\"",namespace="default"} 0.6 ${stamp}`,
        '# HELP pod_memory_working_set_bytes [ALPHA] Current working set of the pod in bytes',
        '# TYPE pod_memory_working_set_bytes gauge',
        `pod_memory_working_set_bytes{pod="web \\"1\\"",namespace="default"} 250 ${stamp}`,
        '# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise',
        '# TYPE scrape_error gauge',
        'scrape_error 0',
        '',
      ].join('\n'),
    );
  });

  test('without a summary, only scrape_error 1', () => {
    expect(resourceMetricsText(undefined)).toBe('# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE scrape_error gauge\nscrape_error 1\n');
  });
});
