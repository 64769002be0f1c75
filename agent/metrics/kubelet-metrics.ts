/** The agent's Prometheus metrics, in a registry of its own (prom-client). */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunningPod } from '../runtime/runtime.js';

/**
 * The event loop delay histogram's sampling interval, ms. prom-client's default (10) wakes the
 * process 100 times a second: 0.4% of a core on this machine, more than the rest of an idle
 * node's work together. Ten samples a second still show the percentiles of a loop that lags.
 */
const EventLoopMonitoringPrecisionMs = 100;

export class KubeletMetrics {
  readonly registry = new Registry();
  readonly podWorkerDuration: Histogram<'operation'>;
  /** prober_probe_total, with the kubelet's labels (served on /metrics and /metrics/probes). */
  readonly proberProbeTotal: Counter<'probe_type' | 'result' | 'container' | 'pod' | 'namespace' | 'pod_uid'>;
  /** Only the prober's metrics, as the kubelet's /metrics/probes. */
  readonly probesRegistry = new Registry();

  constructor(runningPods: () => readonly RunningPod[]) {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EventLoopMonitoringPrecisionMs });
    new Gauge({
      name: 'kubelet_running_pods',
      help: 'Number of pods that have a running pod sandbox',
      registers: [this.registry],
      collect() {
        this.set(runningPods().filter((pod) => pod.sandboxes.some((s) => s.state === 'ready')).length);
      },
    });
    new Gauge({
      name: 'kubelet_running_containers',
      help: 'Number of containers currently running',
      labelNames: ['container_state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const pod of runningPods()) for (const c of pod.containers) this.inc({ container_state: c.state });
      },
    });
    this.podWorkerDuration = new Histogram({
      name: 'kubelet_pod_worker_duration_seconds',
      help: 'Duration in seconds to sync a single pod, by operation',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.proberProbeTotal = new Counter({
      name: 'prober_probe_total',
      help: 'Cumulative number of a liveness, readiness or startup probe for a container by result.',
      labelNames: ['probe_type', 'result', 'container', 'pod', 'namespace', 'pod_uid'],
      registers: [this.registry, this.probesRegistry],
    });
  }
}
