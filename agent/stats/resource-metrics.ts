/**
 * /metrics/resource: the kubelet's resource metrics (pkg/kubelet/metrics/collectors
 * resource_metrics.go), what metrics-server scrapes: cumulative CPU in core-seconds and the
 * memory working set of the node, of each pod and of each container, every sample stamped with
 * the time it was taken, and scrape_error. Written out by hand because prom-client cannot stamp
 * samples with their own time, which is what lets a scraper compute rates from two scrapes.
 */
import type { Summary } from './summary.js';

export const ResourceMetricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Array<{ labels: Record<string, string>; value: number; time?: string }>;
}

/** The exposition text for `summary`, or for a failure to get one (scrape_error 1 and nothing else). */
export function resourceMetricsText(summary: Summary | undefined): string {
  const families: Family[] = [
    { name: 'container_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed by the container in core-seconds', type: 'counter', samples: [] },
    { name: 'container_memory_working_set_bytes', help: 'Current working set of the container in bytes', type: 'gauge', samples: [] },
    { name: 'node_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed by the node in core-seconds', type: 'counter', samples: [] },
    { name: 'node_memory_working_set_bytes', help: 'Current working set of the node in bytes', type: 'gauge', samples: [] },
    { name: 'pod_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed by the pod in core-seconds', type: 'counter', samples: [] },
    { name: 'pod_memory_working_set_bytes', help: 'Current working set of the pod in bytes', type: 'gauge', samples: [] },
    { name: 'scrape_error', help: '1 if there was an error while getting container metrics, 0 otherwise', type: 'gauge', samples: [{ labels: {}, value: summary ? 0 : 1 }] },
  ];
  const [containerCpu, containerMemory, nodeCpu, nodeMemory, podCpu, podMemory] = families as [Family, Family, Family, Family, Family, Family, Family];
  if (summary) {
    nodeCpu.samples.push({ labels: {}, value: summary.node.cpu.usageCoreNanoSeconds / 1e9, time: summary.node.cpu.time });
    nodeMemory.samples.push({ labels: {}, value: summary.node.memory.workingSetBytes, time: summary.node.memory.time });
    for (const pod of summary.pods) {
      const podLabels = { pod: pod.podRef.name, namespace: pod.podRef.namespace };
      for (const container of pod.containers) {
        const labels = { container: container.name, ...podLabels };
        containerCpu.samples.push({ labels, value: container.cpu.usageCoreNanoSeconds / 1e9, time: container.cpu.time });
        containerMemory.samples.push({ labels, value: container.memory.workingSetBytes, time: container.memory.time });
      }
      if (pod.cpu) podCpu.samples.push({ labels: podLabels, value: pod.cpu.usageCoreNanoSeconds / 1e9, time: pod.cpu.time });
      if (pod.memory) podMemory.samples.push({ labels: podLabels, value: pod.memory.workingSetBytes, time: pod.memory.time });
    }
  }
  return families
    .filter((family) => family.samples.length > 0)
    .map((family) => [`# HELP ${family.name} [ALPHA] ${family.help}`, `# TYPE ${family.name} ${family.type}`, ...family.samples.map((sample) => line(family.name, sample))].join('\n'))
    .join('\n')
    .concat('\n');
}

function line(name: string, sample: Family['samples'][number]): string {
  const labels = Object.entries(sample.labels).map(([key, value]) => `${key}="${escapeLabel(value)}"`);
  const stamp = sample.time === undefined ? '' : ` ${Date.parse(sample.time)}`;
  return `${name}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${sample.value}${stamp}`;
}

const escapeLabel = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
